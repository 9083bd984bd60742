using RevenueLedger.Hosting;

namespace RevenueLedger.Gateway;

/// <summary>The query side as its own process: reports from the read models, the account timeline, the rebuild trigger.</summary>
public sealed class Program
{
    public static async Task Main(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.AddLedgerHost(LedgerComponents.Gateway);
        builder.AddGateway();
        var app = builder.Build();
        app.UseLedgerHost();
        app.MapGateway();
        await app.RunAsync();
    }
}
