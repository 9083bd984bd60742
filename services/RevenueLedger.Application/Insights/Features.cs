using RevenueLedger.Domain.Insights;
using RevenueLedger.Domain.Reporting;

namespace RevenueLedger.Application.Insights;

/// <summary>
/// What the models may know of an account on a day — only what is in force on it, never anything later: each signal's
/// value (a rating-like signal — whole numbers, at most 7 distinct values in the book — as one indicator per value, so
/// a model need not assume its effect is a straight line), each other signal's value, its square and its change over the last 91 days, the
/// log of MRR, tenure, whether it contracted or expanded in the last 90 days, and its currency.
/// </summary>
public sealed class FeatureSpace
{
    private const int MaxSignals = 16, MaxCurrencies = 8, MaxCategories = 7;

    private readonly string[] _signals;
    private readonly decimal[]?[] _categories; // per signal: its values (the first one the reference), or null: numeric
    private readonly string[] _currencies;

    public IReadOnlyList<string> Names { get; }

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<LedgerSnapshot, FeatureSpace> Spaces = [];

    /// <summary>The snapshot's feature space, made once (it scans every signal value to tell ratings from measures).</summary>
    public static FeatureSpace Of(LedgerSnapshot snapshot) => Spaces.GetValue(snapshot, s => new FeatureSpace(s));

    public int Count => Names.Count;

    public FeatureSpace(LedgerSnapshot snapshot)
    {
        _signals = [.. snapshot.Signals.Names.Take(MaxSignals)];
        _categories = new decimal[]?[_signals.Length];
        for (int s = 0; s < _signals.Length; s++)
        {
            var values = new SortedSet<decimal>();
            bool whole = true;
            foreach (var account in snapshot.Accounts)
                foreach (var p in snapshot.Signals.Of(account.AccountId))
                    if (p.Signal == _signals[s] && values.Count <= MaxCategories) { values.Add(p.Value); whole &= decimal.Truncate(p.Value) == p.Value; }
            _categories[s] = whole && values.Count is > 1 and <= MaxCategories ? [.. values] : null;
        }
        _currencies = [.. snapshot.Accounts.Select(a => a.Currency).Where(c => c.Length > 0).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).Take(MaxCurrencies)];
        var names = new List<string>();
        for (int s = 0; s < _signals.Length; s++)
        {
            if (_categories[s] is { } values)
                names.AddRange(values.Skip(1).Select(v => $"{_signals[s]}={v.ToString(System.Globalization.CultureInfo.InvariantCulture)}"));
            else
                names.AddRange([_signals[s], $"{_signals[s]}:squared", $"{_signals[s]}:change-91d"]);
            names.Add($"{_signals[s]}:missing");
        }
        names.AddRange(["log-mrr", "tenure-years", "contracted-90d", "expanded-90d"]);
        names.AddRange(_currencies.Skip(1).Select(c => $"currency={c}"));
        Names = names;
    }

    /// <summary>The index of the "contracted in the last 90 days" feature: the baseline rule.</summary>
    public int ContractedRecently => Names.Count - Math.Max(0, _currencies.Length - 1) - 2;

    /// <summary>Fills <paramref name="row"/> (length <see cref="Count"/>) with the account's features on <paramref name="day"/>.</summary>
    public void Fill(AccountHistory account, IReadOnlyList<SignalPoint> points, DateOnly day, Span<double> row)
    {
        row.Clear();
        int k = 0;
        for (int s = 0; s < _signals.Length; s++)
        {
            var (now, before) = ValueOn(points, _signals[s], day);
            if (_categories[s] is { } values)
            {
                if (now is { } v) { int at = Array.IndexOf(values, v); if (at > 0) row[k + at - 1] = 1; }
                k += values.Length - 1;
            }
            else
            {
                // The square lets a linear model bend: churn climbs steeply as usage falls, not along a line.
                double value = now is { } v ? (double)v : 0;
                row[k++] = value;
                row[k++] = value * value;
                row[k++] = now is { } a && before is { } b ? (double)(a - b) : 0;
            }
            row[k++] = now is null ? 1 : 0;
        }
        decimal mrr = account.MrrAt(day);
        row[k++] = Math.Log(1 + (double)mrr);
        var movements = account.Movements;
        double tenure = movements.Count > 0 && movements[0].Day < day ? (day.DayNumber - movements[0].Day.DayNumber) / 365.25 : 0;
        row[k++] = tenure;
        bool contracted = false, expanded = false;
        for (int i = account.FirstMovementFrom(day.AddDays(-90)); i < movements.Count && movements[i].Day < day; i++)
        {
            contracted |= movements[i].Kind == MovementKind.Contraction;
            expanded |= movements[i].Kind == MovementKind.Expansion;
        }
        row[k++] = contracted ? 1 : 0;
        row[k++] = expanded ? 1 : 0;
        for (int c = 1; c < _currencies.Length; c++) row[k++] = account.Currency == _currencies[c] ? 1 : 0;
    }

    /// <summary>The value in force on the day and the one 91 days before (points sorted by signal, date, position).</summary>
    private static (decimal? Now, decimal? Before) ValueOn(IReadOnlyList<SignalPoint> points, string signal, DateOnly day)
    {
        decimal? now = null, before = null;
        var earlier = day.AddDays(-91);
        for (int i = 0; i < points.Count; i++)
        {
            var p = points[i];
            int c = string.CompareOrdinal(p.Signal, signal);
            if (c < 0) continue;
            if (c > 0 || p.Date > day) break;
            now = p.Value;
            if (p.Date <= earlier) before = p.Value;
        }
        return (now, before);
    }

    /// <summary>Whether the account churns or contracts in [day, day + horizon): what the health score predicts.</summary>
    public static bool LosesWithin(AccountHistory account, DateOnly day, int horizonDays)
    {
        var movements = account.Movements;
        var end = day.AddDays(horizonDays);
        for (int i = account.FirstMovementFrom(day); i < movements.Count && movements[i].Day < end; i++)
            if (movements[i].Kind is MovementKind.Churn or MovementKind.Contraction) return true;
        return false;
    }
}
