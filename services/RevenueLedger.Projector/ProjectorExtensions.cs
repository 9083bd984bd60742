using Microsoft.Extensions.DependencyInjection;

namespace RevenueLedger.Projector;

public static class ProjectorExtensions
{
    /// <summary>The projector as a component of a host (its own process, or <c>ledger serve</c>): runs when the host's components include it.</summary>
    public static IServiceCollection AddProjector(this IServiceCollection services) => services.AddHostedService<ProjectorService>();
}
