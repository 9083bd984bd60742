using System.Collections.Frozen;
using System.IO.Compression;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace RevenueLedger.Dashboard;

/// <summary>
/// Serves the dashboard page at <c>/dashboard/</c>. The page is code only: every number it shows comes from the
/// gateway's public <c>/v1</c> API with the key the user gives it, so the files need no authentication and the page can
/// reach nothing another client could not.
/// </summary>
public static class DashboardEndpoints
{
    public const string Path = "/dashboard/";

    public static IEndpointRouteBuilder MapDashboard(this IEndpointRouteBuilder app)
    {
        var assets = DashboardAssets.Load();
        // Routing matches /dashboard and /dashboard/ alike; the page's relative links need the slash.
        app.MapGet("/dashboard/{file?}", (HttpContext http, string? file) =>
                file is null && !http.Request.Path.Value!.EndsWith('/') ? Results.Redirect(Path + http.Request.QueryString) : assets.Serve(http, file ?? "index.html"))
            .AllowAnonymous().ExcludeFromDescription();
        return app;
    }
}

/// <summary>The bundled files, read once from this assembly, with their gzip form and a content hash for revalidation.</summary>
public sealed class DashboardAssets
{
    private readonly FrozenDictionary<string, Asset> _files;

    private DashboardAssets(FrozenDictionary<string, Asset> files) => _files = files;

    public IReadOnlyCollection<string> Names => _files.Keys;

    /// <summary>The bytes a browser downloads for <paramref name="name"/> when it accepts gzip.</summary>
    public int GzipLength(string name) => _files[name].Gzip.Length;

    public static DashboardAssets Load()
    {
        var assembly = typeof(DashboardAssets).Assembly;
        var files = new Dictionary<string, Asset>(StringComparer.Ordinal);
        foreach (var resource in assembly.GetManifestResourceNames().Where(n => n.StartsWith("dashboard/", StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var plain = new MemoryStream();
            stream.CopyTo(plain);
            var bytes = plain.ToArray();
            using var packed = new MemoryStream();
            using (var gzip = new GZipStream(packed, CompressionLevel.SmallestSize, leaveOpen: true)) gzip.Write(bytes);
            var name = resource["dashboard/".Length..];
            files[name] = new Asset(bytes, packed.ToArray(), ContentType(name), $"\"{Convert.ToHexStringLower(SHA256.HashData(bytes))[..20]}\"");
        }
        if (!files.ContainsKey("index.html"))
            throw new InvalidOperationException("the dashboard bundle is missing from RevenueLedger.Dashboard (its build runs npm ci and npm run build in web/)");
        return new DashboardAssets(files.ToFrozenDictionary(StringComparer.Ordinal));
    }

    public IResult Serve(HttpContext http, string name)
    {
        if (!_files.TryGetValue(name, out var asset))
            return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such dashboard file", detail: $"the dashboard has no file '{name}'",
                type: "https://revenueledger.dev/problems/not-found");
        var headers = http.Response.Headers;
        headers.ETag = asset.ETag;
        // Revalidated on every load (a 304 costs a round trip, not the bundle), so a new build shows at once.
        headers.CacheControl = "no-cache";
        headers.XContentTypeOptions = "nosniff";
        // Only this origin: the page's own script and the API. ECharts sets inline styles on its tooltips.
        headers.ContentSecurityPolicy = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; frame-ancestors 'none'";
        headers.Vary = "Accept-Encoding";
        if (http.Request.Headers.IfNoneMatch.Contains(asset.ETag)) return Results.StatusCode(StatusCodes.Status304NotModified);
        if (http.Request.Headers.AcceptEncoding.Any(e => e is not null && e.Contains("gzip", StringComparison.OrdinalIgnoreCase)))
        {
            headers.ContentEncoding = "gzip";
            return Results.Bytes(asset.Gzip, asset.ContentType);
        }
        return Results.Bytes(asset.Bytes, asset.ContentType);
    }

    private static string ContentType(string name) => System.IO.Path.GetExtension(name) switch
    {
        ".html" => "text/html; charset=utf-8",
        ".js" => "text/javascript; charset=utf-8",
        ".css" => "text/css; charset=utf-8",
        ".svg" => "image/svg+xml",
        _ => "application/octet-stream",
    };

    private sealed record Asset(byte[] Bytes, byte[] Gzip, string ContentType, string ETag);
}
