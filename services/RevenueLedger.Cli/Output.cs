using Spectre.Console;

namespace RevenueLedger.Cli;

/// <summary>Spectre.Console tables and progress on a terminal; plain aligned text when redirected or under test.</summary>
public sealed class Output(TextWriter writer, bool rich)
{
    public TextWriter Writer { get; } = writer;

    public bool Rich { get; } = rich;

    public static Output For(TextWriter writer) =>
        new(writer, ReferenceEquals(writer, Console.Out) && !Console.IsOutputRedirected && Environment.GetEnvironmentVariable("NO_COLOR") is null);

    public void Line(string text = "") => Writer.WriteLine(text);

    public void Heading(string text)
    {
        if (Rich) AnsiConsole.Write(new Rule($"[bold]{Markup.Escape(text)}[/]").LeftJustified());
        else { Writer.WriteLine(); Writer.WriteLine(text); Writer.WriteLine(new string('=', text.Length)); }
    }

    /// <summary>Columns after the first <paramref name="textColumns"/> are numbers and right-aligned.</summary>
    public void Table(string[] header, IEnumerable<string[]> rows, int textColumns = 1)
    {
        var all = rows.ToList();
        if (Rich)
        {
            var table = new Table().Border(TableBorder.Rounded);
            for (int i = 0; i < header.Length; i++)
            {
                var col = new TableColumn($"[bold]{Markup.Escape(header[i])}[/]");
                table.AddColumn(i < textColumns ? col : col.RightAligned());
            }
            foreach (var r in all) table.AddRow(r.Select(Markup.Escape).ToArray());
            AnsiConsole.Write(table);
            return;
        }
        var widths = header.Select((h, i) => Math.Max(h.Length, all.Count == 0 ? 0 : all.Max(r => r[i].Length))).ToArray();
        string Format(string[] cells) => string.Join("  ", cells.Select((c, i) => i < textColumns ? c.PadRight(widths[i]) : c.PadLeft(widths[i]))).TrimEnd();
        Writer.WriteLine(Format(header));
        Writer.WriteLine(string.Join("  ", widths.Select(w => new string('-', w))));
        foreach (var r in all) Writer.WriteLine(Format(r));
    }

    /// <summary>
    /// Runs <paramref name="work"/> with a progress bar and its throughput on a terminal, nothing when redirected;
    /// the callback takes how many of <paramref name="total"/> are done.
    /// </summary>
    public async Task<T> ProgressAsync<T>(string label, long total, Func<Action<long>, Task<T>> work, string unit = "events")
    {
        if (!Rich) return await work(_ => { });
        T result = default!;
        await AnsiConsole.Progress().AutoClear(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new CountColumn(), new RateColumn(unit), new RemainingTimeColumn())
            .StartAsync(async ctx =>
            {
                var task = ctx.AddTask(label, maxValue: Math.Max(1, total));
                result = await work(done => task.Value = done);
            });
        return result;
    }

    /// <summary>"12,345 events in 1.2 s (10,288/s)": what a long command did, for terminals and logs alike.</summary>
    public static string Throughput(long count, string unit, TimeSpan elapsed) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"{count:N0} {unit} in {elapsed.TotalSeconds:F1} s ({(elapsed.TotalSeconds > 0 ? count / elapsed.TotalSeconds : 0):N0}/s)");

    private sealed class CountColumn : ProgressColumn
    {
        public override Spectre.Console.Rendering.IRenderable Render(Spectre.Console.Rendering.RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
            new Text(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{task.Value:N0}/{task.MaxValue:N0}"));
    }

    private sealed class RateColumn(string unit) : ProgressColumn
    {
        public override Spectre.Console.Rendering.IRenderable Render(Spectre.Console.Rendering.RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
            new Text(task.Speed is { } perSecond ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{perSecond:N0} {unit}/s") : "");
    }
}
