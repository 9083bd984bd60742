using System.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace RevenueLedger.ServiceDefaults;

/// <summary>
/// Refuses query parameters an endpoint does not take (400 naming the first), so a client asking for a filter it would
/// not get (`owner=` for `ownerId=`, `format=csv`) learns that instead of reading an unfiltered answer as filtered.
/// What an endpoint takes is read from its handler's parameters — the same source the OpenAPI document is made from —
/// so the document lists exactly what is accepted.
/// </summary>
public static class StrictQuery
{
    public static TBuilder RejectUnknownQueryParameters<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder
    {
        builder.AddEndpointFilterFactory((factory, next) =>
        {
            var allowed = QueryNames(factory.MethodInfo);
            return async context =>
            {
                foreach (var key in context.HttpContext.Request.Query.Keys)
                    if (!allowed.Contains(key))
                        return Problems.Query(key, allowed.Count == 0
                            ? $"unknown query parameter '{key}': this endpoint takes none"
                            : $"unknown query parameter '{key}': this endpoint takes {string.Join(", ", allowed.Order(StringComparer.Ordinal))}");
                return await next(context);
            };
        });
        return builder;
    }

    /// <summary>The names a query string may bind to: simple-typed parameters, and the properties of [AsParameters] ones.</summary>
    public static HashSet<string> QueryNames(MethodInfo handler)
    {
        // Binding is case-insensitive, so a differently cased name does reach its parameter and is not refused.
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var p in handler.GetParameters())
        {
            if (p.GetCustomAttribute<AsParametersAttribute>() is not null)
            {
                foreach (var prop in p.ParameterType.GetProperties(BindingFlags.Public | BindingFlags.Instance))
                    if (IsSimple(prop.PropertyType) && prop.GetCustomAttribute<FromRouteAttribute>() is null)
                        names.Add(prop.GetCustomAttribute<FromQueryAttribute>()?.Name ?? prop.Name);
                foreach (var ctor in p.ParameterType.GetConstructors())
                    foreach (var cp in ctor.GetParameters())
                        if (IsSimple(cp.ParameterType)) names.Add(cp.GetCustomAttribute<FromQueryAttribute>()?.Name ?? cp.Name!);
            }
            else if (IsSimple(p.ParameterType) && p.GetCustomAttribute<FromRouteAttribute>() is null)
            {
                names.Add(p.GetCustomAttribute<FromQueryAttribute>()?.Name ?? p.Name!);
            }
        }
        return names;
    }

    private static bool IsSimple(Type t)
    {
        t = Nullable.GetUnderlyingType(t) ?? t;
        return t == typeof(string) || t.IsPrimitive || t == typeof(decimal) || t == typeof(DateOnly) || t == typeof(DateTime) || t.IsEnum;
    }
}
