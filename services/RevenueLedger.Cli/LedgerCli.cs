using System.CommandLine;
using System.CommandLine.Parsing;
using RevenueLedger.Application;
using RevenueLedger.Domain;
using RevenueLedger.Domain.Reporting;
using RevenueLedger.Storage;

namespace RevenueLedger.Cli;

/// <summary>The `ledger` command line. Exit codes: 0 done, 1 the ledger says no (e.g. a broken hash chain), 2 usage error.</summary>
public static class LedgerCli
{
    public const int Ok = 0;
    public const int Failed = 1;
    public const int Usage = 2;

    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken ct = default)
    {
        var root = new RootCommand("RevenueLedger: an event-sourced revenue ledger that computes NRR, GRR and the MRR bridge exactly.")
        {
            GenerateCommand.Create(stdout),
            ImportCommand.Create(stdout),
            ReportCommand.Create(stdout),
            VerifyCommand.Create(stdout),
            ProjectCommand.Create(stdout),
            DemoCommand.Create(stdout),
            FxCommand.Create(stdout),
            ServeCommand.Create(stdout, stderr),
            AuditCommands.Keys(stdout),
            AuditCommands.Digest(stdout),
            AuditCommands.Export(stdout),
            ReconcileCommand.Create(stdout),
            InsightCommands.Signals(stdout),
            InsightCommands.Pareto(stdout),
            InsightCommands.Health(stdout),
            InsightCommands.DeepDiveCommand(stdout),
        };
        var commands = root.Subcommands.Select(c => c.Name).ToList();
        if (args.Length == 0)
        {
            await stderr.WriteLineAsync($"error: no command given; the commands are {string.Join(", ", commands)} (see 'ledger --help')");
            return Usage;
        }
        if (!args[0].StartsWith('-') && !commands.Contains(args[0]))
        {
            var closest = commands.MinBy(c => EditDistance(c, args[0]))!;
            await stderr.WriteLineAsync(EditDistance(closest, args[0]) <= Math.Max(2, closest.Length / 3)
                ? $"error: unknown command '{args[0]}'; did you mean '{closest}'? (see 'ledger --help')"
                : $"error: unknown command '{args[0]}'; the commands are {string.Join(", ", commands)} (see 'ledger --help')");
            return Usage;
        }
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var e in parse.Errors) await stderr.WriteLineAsync($"error: {e.Message}");
            await stderr.WriteLineAsync("see 'ledger --help'");
            return Usage;
        }
        try
        {
            return await parse.InvokeAsync(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false }, ct);
        }
        catch (LedgerUsageException ex)
        {
            await stderr.WriteLineAsync($"error: {ex.Message}");
            return Usage;
        }
        catch (LedgerFailedException ex)
        {
            await stderr.WriteLineAsync($"error: {ex.Message}");
            return Failed;
        }
        catch (FxRateMissingException ex)
        {
            // Nothing is printed as a report: a missing rate is never taken as 1 or 0 (spec §10).
            await stderr.WriteLineAsync($"error: {ErrorCodes.FxRateMissing}: {ex.Message}");
            return Failed;
        }
        catch (AmountOverflowException ex)
        {
            await stderr.WriteLineAsync($"error: {ErrorCodes.AmountOverflow}: {ex.Message}");
            return Failed;
        }
        catch (IOException ex)
        {
            await stderr.WriteLineAsync($"error: {ex.Message}");
            return Failed;
        }
        catch (System.Data.Common.DbException ex)
        {
            await stderr.WriteLineAsync($"error: the store failed: {ex.Message}");
            return Failed;
        }
    }

    /// <summary>Levenshtein distance, case-insensitive: how many keystrokes a typo is away from a command.</summary>
    internal static int EditDistance(string a, string b)
    {
        a = a.ToLowerInvariant();
        b = b.ToLowerInvariant();
        var previous = Enumerable.Range(0, b.Length + 1).ToArray();
        for (int i = 1; i <= a.Length; i++)
        {
            var current = new int[b.Length + 1];
            current[0] = i;
            for (int j = 1; j <= b.Length; j++)
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            previous = current;
        }
        return previous[b.Length];
    }

    /// <summary>The reporting currency: an ISO 4217 code; default LEDGER_CURRENCY, else USD (spec §10).</summary>
    public static Option<string> CurrencyOption(string name = "--currency", string description = "Reporting currency (ISO 4217, e.g. EUR); default: LEDGER_CURRENCY, else USD") => new(name)
    {
        Description = description,
        HelpName = "code",
        DefaultValueFactory = _ => DefaultCurrency,
        CustomParser = r =>
        {
            var text = r.Tokens.Count > 0 ? r.Tokens[0].Value : DefaultCurrency;
            if (CurrencyCode.IsValid(text)) return text;
            r.AddError($"{name} must be a three-letter upper-case ISO 4217 code such as USD or EUR, got '{text}'");
            return "";
        },
    };

    private static string DefaultCurrency => Environment.GetEnvironmentVariable("LEDGER_CURRENCY") is { Length: > 0 } c ? c : "USD";

    public static Option<string> StoreOption() => new("--store")
    {
        Description = "Store URI: sqlite:PATH, postgres:CONNECTION-STRING or marten:CONNECTION-STRING",
        HelpName = "uri",
        DefaultValueFactory = _ => StoreUri.Default,
    };

    /// <summary>A `YYYY-MM-DD` option whose parse error names the option and the value.</summary>
    public static Option<DateOnly> DateOption(string name, string description, bool required) => new(name)
    {
        Description = description,
        HelpName = "YYYY-MM-DD",
        Required = required,
        CustomParser = r =>
        {
            var text = r.Tokens.Count > 0 ? r.Tokens[0].Value : "";
            if (Dates.TryParse(text, out var d)) return d;
            r.AddError($"{name} must be a real date YYYY-MM-DD between 1900-01-01 and 2999-12-31, got '{text}'");
            return default;
        },
    };

    public static Option<T> Choice<T>(string name, string description, T defaultValue, params (string Text, T Value)[] choices) => new(name)
    {
        Description = description,
        HelpName = string.Join('|', choices.Select(c => c.Text)),
        DefaultValueFactory = _ => defaultValue,
        CustomParser = r =>
        {
            var text = r.Tokens.Count > 0 ? r.Tokens[0].Value : "";
            foreach (var (t, v) in choices) if (t == text) return v;
            r.AddError($"{name} must be one of {string.Join(", ", choices.Select(c => c.Text))}, got '{text}'");
            return defaultValue;
        },
    };
}
