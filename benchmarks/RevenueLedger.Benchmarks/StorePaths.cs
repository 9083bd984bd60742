using System.Diagnostics;
using System.Globalization;
using JasperFx.Events;
using JasperFx.Events.Projections;
using Marten;
using Npgsql;
using RevenueLedger.Application;
using RevenueLedger.Application.Projections;
using RevenueLedger.Benchmarks;
using RevenueLedger.Domain;
using RevenueLedger.EventStore;
using RevenueLedger.Postgres;

/// <summary>
/// Issue 16's table: on the book `ledger import` stored in SOURCE-SCHEMA, in one process and on one server, the write
/// paths (bare binary COPY of the stored rows, the ledger's PostgreSQL append, Marten's Quick and Rich appends of the
/// same events) and the read side (the ledger's projector catch-up from 0, Marten's async-daemon rebuild of a
/// per-account revenue projection). Each path gets a schema of its own and starts after a CHECKPOINT.
/// </summary>
internal static class StorePaths
{
    public static async Task<int> RunAsync(string server, string sourceSchema)
    {
        string Schema(string name) => new NpgsqlConnectionStringBuilder(server) { SearchPath = name }.ConnectionString;
        foreach (var s in new[] { "bench_ours", "bench_ours_reporting", "bench_mquick", "bench_mrich" }) await ExecAsync(server, $"DROP SCHEMA IF EXISTS {s} CASCADE");

        // The accepted book, as the ledger stored it, in position order.
        var book = new List<LedgerEvent>();
        await using (var source = await PostgresEventStore.OpenAsync(Schema(sourceSchema), create: false))
            await foreach (var e in source.ReadEventsAsync()) book.Add(e.Event);
        var chunks = Chunks(book);
        Console.WriteLine($"book: {book.Count} events, {book.Select(e => e.AccountId).Distinct(StringComparer.Ordinal).Count()} accounts, {chunks.Count} appends of up to {Importer.ChunkSize}");

        var results = new List<(string Path, double Seconds)>();
        async Task Measure(string path, Func<Task> run)
        {
            await ExecAsync(server, "CHECKPOINT");
            var clock = Stopwatch.StartNew();
            await run();
            results.Add((path, clock.Elapsed.TotalSeconds));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{path}: {clock.Elapsed.TotalSeconds:F2} s, {book.Count / clock.Elapsed.TotalSeconds:F0} events/s"));
        }

        var (_, copySeconds) = await PostgresBaselines.MeasureCopyAsync(Schema(sourceSchema));
        results.Add(("bare binary COPY of the stored rows", copySeconds));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"bare COPY: {copySeconds:F2} s"));

        // Every path first appends one event of its own (stream "warm-up") outside the measured time, so neither the
        // ledger's JIT nor Marten's generated code is charged to the first measured append; both read sides then
        // fold that one event too.
        var warmUp = new OwnerAssigned("warm-up-1", "warm-up", "o1", new DateOnly(2019, 1, 1), Metadata.Empty);
        await using (var ours = await PostgresEventStore.OpenAsync(Schema("bench_ours")))
        {
            await ours.AppendNewAsync([new StreamAppend("warm-up", 0, [warmUp])]);
            await Measure("ledger PostgreSQL append (IEventStore.AppendNewAsync)", async () =>
            {
                // The events become EventData (canonical payload, content digest) inside the measured time, as
                // Marten serialises inside its own.
                foreach (var chunk in chunks)
                    await ours.AppendNewAsync(chunk.Select(a => new StreamAppend(a.AccountId, a.VersionBefore, a.Events.Select(e => EventData.From(e)).ToList())).ToList());
            });
            if ((await ours.GetHeadAsync()).Position != book.Count + 1) throw new InvalidOperationException("the ledger's append lost events");
        }

        foreach (var (mode, schema) in new[] { (EventAppendMode.Quick, "bench_mquick"), (EventAppendMode.Rich, "bench_mrich") })
        {
            using var marten = MartenStore(Schema(schema), schema, mode);
            await marten.Storage.ApplyAllConfiguredChangesToDatabaseAsync();
            await using (var session = marten.LightweightSession())
            {
                session.Events.StartStream("warm-up", warmUp);
                await session.SaveChangesAsync();
            }
            await Measure($"Marten append ({mode})", async () =>
            {
                foreach (var chunk in chunks)
                {
                    await using var session = marten.LightweightSession();
                    foreach (var a in chunk) session.Events.Append(a.AccountId, a.VersionBefore + a.Events.Count, a.Events.ToArray<object>());
                    await session.SaveChangesAsync();
                }
            });
            await using var count = new NpgsqlConnection(Schema(schema));
            await count.OpenAsync();
            await using var cmd = new NpgsqlCommand("SELECT count(*) FROM mt_events", count);
            if ((long)(await cmd.ExecuteScalarAsync())! != book.Count + 1) throw new InvalidOperationException($"Marten ({mode}) lost events");
        }

        // Both read sides start from logs vacuumed and analysed, as a deployment's would be by then.
        foreach (var s in new[] { "bench_ours.events", "bench_mquick.mt_events", "bench_mquick.mt_streams" }) await ExecAsync(server, $"VACUUM (ANALYZE) {s}");

        await using (var ours = await PostgresEventStore.OpenAsync(Schema("bench_ours"), create: false))
        await using (var readModels = await PostgresReadModelStore.OpenAsync(Schema("bench_ours")))
        {
            long head = 0;
            await Measure("ledger projector catch-up from 0 (windows, owners, bridge, churn reasons, histories)", async () => head = await new Projector(ours, readModels).CatchUpAsync());
            if (head != book.Count + 1) throw new InvalidOperationException($"the catch-up stopped at {head}");
        }

        using (var marten = MartenStore(Schema("bench_mquick"), "bench_mquick", EventAppendMode.Quick))
        {
            using var daemon = await marten.BuildProjectionDaemonAsync();
            await Measure("Marten async-daemon rebuild (per-account revenue documents)", () => daemon.RebuildProjectionAsync<AccountRevenueProjection>(TimeSpan.FromMinutes(30), CancellationToken.None));
            await using var session = marten.QuerySession();
            int documents = await session.Query<AccountRevenue>().CountAsync();
            Console.WriteLine($"Marten rebuild: {documents} account documents");
        }

        Console.WriteLine();
        Console.WriteLine("| path | seconds | events/s |");
        Console.WriteLine("|---|---:|---:|");
        foreach (var (path, seconds) in results)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {path} | {seconds:F2} | {book.Count / seconds:N0} |"));
        double Rate(string prefix) => book.Count / results.First(r => r.Path.StartsWith(prefix, StringComparison.Ordinal)).Seconds;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"ratios: ours/COPY {Rate("ledger PostgreSQL") / Rate("bare"):F2} (target >= 0.6); ours/Marten Quick {Rate("ledger PostgreSQL") / Rate("Marten append (Quick)"):F2} (target >= 2); " +
            $"ours/Marten Rich {Rate("ledger PostgreSQL") / Rate("Marten append (Rich)"):F2}; catch-up/Marten rebuild {Rate("ledger projector") / Rate("Marten async-daemon"):F2} (target >= 10)"));
        return 0;
    }

    private sealed record Append(string AccountId, long VersionBefore, List<LedgerEvent> Events);

    /// <summary>The book in importer-sized appends: per append, each account's events in order, with its version before.</summary>
    private static List<List<Append>> Chunks(List<LedgerEvent> book)
    {
        var versions = new Dictionary<string, long>(StringComparer.Ordinal);
        var chunks = new List<List<Append>>();
        for (int i = 0; i < book.Count; i += Importer.ChunkSize)
        {
            var byAccount = new Dictionary<string, Append>(StringComparer.Ordinal);
            var chunk = new List<Append>();
            foreach (var e in book.Skip(i).Take(Importer.ChunkSize))
            {
                if (!byAccount.TryGetValue(e.AccountId, out var a))
                {
                    byAccount[e.AccountId] = a = new Append(e.AccountId, versions.GetValueOrDefault(e.AccountId), []);
                    chunk.Add(a);
                }
                a.Events.Add(e);
            }
            foreach (var a in chunk) versions[a.AccountId] = a.VersionBefore + a.Events.Count;
            chunks.Add(chunk);
        }
        return chunks;
    }

    /// <summary>Marten as a team on it would configure it for these events: string stream keys, the ledger's stored type names.</summary>
    private static DocumentStore MartenStore(string connectionString, string schema, EventAppendMode mode)
    {
        var opts = new StoreOptions();
        opts.Connection(connectionString);
        opts.DatabaseSchemaName = schema;
        opts.Events.StreamIdentity = StreamIdentity.AsString;
        opts.Events.AppendMode = mode;
        opts.UseSystemTextJsonForSerialization(casing: Weasel.Core.Casing.CamelCase);
        opts.Events.MapEventType<ContractStarted>("V1.ContractStarted");
        opts.Events.MapEventType<ContractExpanded>("V1.ContractExpanded");
        opts.Events.MapEventType<ContractContracted>("V1.ContractContracted");
        opts.Events.MapEventType<ContractChurned>("V1.ContractChurned");
        opts.Events.MapEventType<OwnerAssigned>("V1.OwnerAssigned");
        opts.Events.MapEventType<EventReversed>("V1.EventReversed");
        opts.Projections.Add(new AccountRevenueProjection(), ProjectionLifecycle.Async);
        return new DocumentStore(opts);
    }

    private static async Task ExecAsync(string connectionString, string sql)
    {
        await using var c = new NpgsqlConnection(connectionString);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, c) { CommandTimeout = 600 };
        await cmd.ExecuteNonQueryAsync();
    }
}
