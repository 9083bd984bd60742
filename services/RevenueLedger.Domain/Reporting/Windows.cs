namespace RevenueLedger.Domain.Reporting;

public enum WindowKind { Month, Quarter, Year }

/// <summary>A half-open range of business dates [From, To) (spec §5).</summary>
public readonly record struct Window(DateOnly From, DateOnly To)
{
    public static Window Create(DateOnly from, DateOnly to) =>
        from < to ? new Window(from, to) : throw new ArgumentException($"window start {Dates.Format(from)} must be before its end {Dates.Format(to)}");

    public override string ToString() => $"{Dates.Format(From)}..{Dates.Format(To)}";

    /// <summary>
    /// The calendar months, quarters or years that overlap [from, to), whole: a finance user asking for the
    /// quarters from 2024-02-15 gets Q1 2024 in full rather than a clipped, incomparable quarter.
    /// </summary>
    public static IReadOnlyList<Window> Calendar(WindowKind kind, DateOnly from, DateOnly to)
    {
        if (from >= to) throw new ArgumentException($"from {Dates.Format(from)} must be before to {Dates.Format(to)}");
        int months = kind switch { WindowKind.Month => 1, WindowKind.Quarter => 3, WindowKind.Year => 12, _ => throw new ArgumentOutOfRangeException(nameof(kind)) };
        var start = new DateOnly(from.Year, ((from.Month - 1) / months * months) + 1, 1);
        var windows = new List<Window>();
        for (var s = start; s < to; s = s.AddMonths(months)) windows.Add(new Window(s, s.AddMonths(months)));
        return windows;
    }
}
