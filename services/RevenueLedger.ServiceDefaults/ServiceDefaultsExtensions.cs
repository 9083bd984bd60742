using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.DependencyInjection;

namespace RevenueLedger.ServiceDefaults;

/// <summary>What every ledger HTTP host has whatever it runs: problem details, API-key authentication with roles, OpenAPI.</summary>
public static class ServiceDefaultsExtensions
{
    public static IServiceCollection AddLedgerServiceDefaults(this IServiceCollection services, Func<IServiceProvider, ApiKeyRing> keys)
    {
        services.AddProblemDetails();
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
