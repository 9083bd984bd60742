using System.Globalization;
using RevenueLedger.Domain;

namespace RevenueLedger.Domain.Tests;

public sealed class MoneyFormatTests
{
    public static TheoryData<string, string> Examples => new()
    {
        { "4400.00", "4400" }, { "100.5000", "100.5" }, { "0.0001", "0.0001" }, { "-2.50", "-2.5" }, { "0.000", "0" },
        { "1000000000", "1000000000" }, { "10", "10" }, { "-0.10", "-0.1" },
    };

    [Theory]
    [MemberData(nameof(Examples))]
    public void Money_is_written_exactly_without_trailing_zeros(string value, string expected) =>
        Assert.Equal(expected, Money.Format(decimal.Parse(value, CultureInfo.InvariantCulture)));

    [Fact]
    public void The_fast_format_writes_what_the_custom_format_writes_for_every_scale_and_sign()
    {
        var rng = new Random(11);
        var values = new List<decimal> { 0m, -0m, new decimal(0, 0, 0, true, 5), decimal.MaxValue, decimal.MinValue, 1e-28m, -1e-28m, 0.5m, -0.5m };
        for (int i = 0; i < 200_000; i++)
        {
            int lo = rng.Next(), mid = rng.Next(4) == 0 ? rng.Next() : 0, hi = rng.Next(8) == 0 ? rng.Next() : 0;
            if (rng.Next(10) == 0) lo = rng.Next(10) * (int)Math.Pow(10, rng.Next(9)); // many trailing zeros
            values.Add(new decimal(lo, mid, hi, rng.Next(2) == 0, (byte)rng.Next(29)));
        }
        foreach (var v in values)
            Assert.Equal(v.ToString(Money.FormatString, CultureInfo.InvariantCulture), Money.Format(v));
    }
}
