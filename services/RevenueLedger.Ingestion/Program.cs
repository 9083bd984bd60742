using RevenueLedger.Hosting;

namespace RevenueLedger.Ingestion;

/// <summary>The write side as its own process: <c>POST /v1/events</c>, batches, and the auditor's log.</summary>
public sealed class Program
{
    public static async Task Main(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.AddLedgerHost(LedgerComponents.Ingestion);
        builder.AddIngestion();
        var app = builder.Build();
        app.UseLedgerHost();
        app.MapIngestion();
        await app.RunAsync();
    }
}
