using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace RevenueLedger.ServiceDefaults;

/// <summary>What every ledger HTTP host has whatever it runs: problem details, API-key authentication with roles, OpenAPI.</summary>
public static class ServiceDefaultsExtensions
{
    public static IServiceCollection AddLedgerServiceDefaults(this IServiceCollection services, Func<IServiceProvider, ApiKeyRing> keys)
    {
        // Problems the framework writes itself (routing's 404/405/415, status-code pages) carry the ledger's types
        // too, so a client handles one vocabulary; the ledger's own problems already have theirs and pass unchanged.
        services.AddProblemDetails(o => o.CustomizeProblemDetails = c =>
        {
            if (c.ProblemDetails.Type is { } type && type.StartsWith(Problems.TypePrefix, StringComparison.Ordinal)) return;
            var (code, detail) = c.ProblemDetails.Status switch
            {
                StatusCodes.Status415UnsupportedMediaType => (Problems.UnsupportedMediaType, "send the body as application/json"),
                StatusCodes.Status405MethodNotAllowed => (Problems.MethodNotAllowed, $"{c.HttpContext.Request.Method} is not allowed here"),
                StatusCodes.Status404NotFound => (Problems.NotFound, $"no such resource: {c.HttpContext.Request.Path}"),
                var s => ($"http-{s}", c.ProblemDetails.Detail),
            };
            c.ProblemDetails.Type = Problems.Type(code);
            c.ProblemDetails.Detail ??= detail;
        });
        services.AddSingleton<ApiKeyRing>(keys);
        services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        services.AddAuthorizationBuilder()
            .AddPolicy(Policies.Submit, p => p.RequireRole(Roles.Writer))
            .AddPolicy(Policies.Report, p => p.RequireRole(Roles.Reader, Roles.Auditor))
            .AddPolicy(Policies.Audit, p => p.RequireRole(Roles.Auditor))
            .AddPolicy(Policies.Administer, p => p.RequireRole(Roles.Admin));
        services.AddOpenApi(o => o.AddDocumentTransformer((doc, _, _) =>
        {
            doc.Info.Title = "RevenueLedger API";
            doc.Info.Description = "Submit revenue events; read NRR, GRR, the MRR bridge and churn reasons. Authenticate with 'Authorization: Bearer <api key>'. Errors are application/problem+json with a stable type.";
            return Task.CompletedTask;
        }));
        return services;
    }
}
