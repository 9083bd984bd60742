using Microsoft.AspNetCore.Http;

namespace RevenueLedger.Hosting;

public static class RequestBody
{
    /// <summary>
    /// The whole body, at most <see cref="HostSettings.MaxBodyBytes"/>; null when larger (the caller answers 413). The
    /// limit is checked here as well as by Kestrel so that every server (and the test server) refuses alike.
    /// </summary>
    public static async Task<byte[]?> ReadAsync(HttpRequest request, CancellationToken ct)
    {
        if (request.ContentLength > HostSettings.MaxBodyBytes) return null;
        using var buffer = new MemoryStream(request.ContentLength is { } n ? (int)n : 4096);
        var chunk = new byte[16 * 1024];
        int read;
        try
        {
            while ((read = await request.Body.ReadAsync(chunk, ct)) > 0)
            {
                if (buffer.Length + read > HostSettings.MaxBodyBytes) return null;
                buffer.Write(chunk, 0, read);
            }
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return null;
        }
        return buffer.ToArray();
    }

    public static IResult TooLarge() => Problems.Result(StatusCodes.Status413PayloadTooLarge, Problems.BodyTooLarge, "Request body too large",
        $"the body may be at most {HostSettings.MaxBodyBytes} bytes (10 MiB)");
}
