using System.Globalization;
using Microsoft.Data.Sqlite;
using RevenueLedger.Application.Projections;
using RevenueLedger.Domain;
using RevenueLedger.Domain.Reporting;

namespace RevenueLedger.Sqlite;

/// <summary>
/// Read models in the embedded SQLite file, next to the log: the same engine and the same guarantees as PostgreSQL
/// (rows and checkpoint in one transaction, compare-and-swap). Money is stored as exact decimal text.
/// </summary>
public sealed class SqliteReadModelStore : IReadModelStore
{
    private readonly string _connectionString;

    private SqliteReadModelStore(string connectionString) => _connectionString = connectionString;

    public static async Task<SqliteReadModelStore> OpenAsync(string path, CancellationToken ct = default)
    {
        var store = new SqliteReadModelStore(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWrite, DefaultTimeout = 120 }.ToString());
        await using var c = await store.OpenAsync(ct);
        using var tx = c.BeginTransaction();
        using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        // Rows before per-currency sums (no currency column) are derived data: dropped, and projected again from 0.
        cmd.CommandText = "SELECT count(*) FROM pragma_table_info('rm_nrr') WHERE name = 'currency'";
        bool hasCurrency = (long)(await cmd.ExecuteScalarAsync(ct))! > 0;
        cmd.CommandText = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'rm_nrr'";
        if (!hasCurrency && (long)(await cmd.ExecuteScalarAsync(ct))! > 0)
        {
            cmd.CommandText = """
                DROP TABLE rm_nrr; DROP TABLE IF EXISTS rm_bridge; DROP TABLE IF EXISTS rm_churn_reasons; DROP TABLE IF EXISTS rm_account_history;
                DELETE FROM rm_checkpoint;
                """;
            await cmd.ExecuteNonQueryAsync(ct);
        }
        cmd.CommandText = """
            CREATE TABLE IF NOT EXISTS rm_current (id INTEGER PRIMARY KEY CHECK (id = 1), generation INTEGER NOT NULL);
            INSERT OR IGNORE INTO rm_current (id, generation) VALUES (1, 1);
            CREATE TABLE IF NOT EXISTS rm_checkpoint (generation INTEGER PRIMARY KEY, position INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS log_cursor (name TEXT PRIMARY KEY, position INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS rm_nrr (
                generation INTEGER NOT NULL, window_kind TEXT NOT NULL, window_from TEXT NOT NULL, window_to TEXT NOT NULL, owner_key TEXT NOT NULL,
                opening_mrr TEXT NOT NULL, expansion TEXT NOT NULL, contraction TEXT NOT NULL, churn TEXT NOT NULL, reactivation TEXT NOT NULL,
                closing_mrr TEXT NOT NULL, accounts_opening INTEGER NOT NULL, accounts_retained INTEGER NOT NULL, currency TEXT NOT NULL,
                PRIMARY KEY (generation, window_kind, window_from, owner_key, currency));
            CREATE TABLE IF NOT EXISTS rm_bridge (
                generation INTEGER NOT NULL, window_kind TEXT NOT NULL, window_from TEXT NOT NULL, window_to TEXT NOT NULL, owner_key TEXT NOT NULL,
                opening_mrr TEXT NOT NULL, new_mrr TEXT NOT NULL, expansion TEXT NOT NULL, contraction TEXT NOT NULL, churn TEXT NOT NULL,
                reactivation TEXT NOT NULL, transfer_in TEXT NOT NULL, transfer_out TEXT NOT NULL, closing_mrr TEXT NOT NULL, accounts_churned INTEGER NOT NULL,
                currency TEXT NOT NULL,
                PRIMARY KEY (generation, window_kind, window_from, owner_key, currency));
            CREATE TABLE IF NOT EXISTS rm_churn_reasons (
                generation INTEGER NOT NULL, window_kind TEXT NOT NULL, window_from TEXT NOT NULL, window_to TEXT NOT NULL, owner_key TEXT NOT NULL,
                reason TEXT NOT NULL, mrr_lost TEXT NOT NULL, accounts INTEGER NOT NULL, currency TEXT NOT NULL,
                PRIMARY KEY (generation, window_kind, window_from, owner_key, reason, currency));
            CREATE TABLE IF NOT EXISTS rm_account_history (generation INTEGER NOT NULL, account_id TEXT NOT NULL, data BLOB NOT NULL, PRIMARY KEY (generation, account_id));
            CREATE TABLE IF NOT EXISTS rm_fx_rate (
                generation INTEGER NOT NULL, position INTEGER NOT NULL, currency TEXT NOT NULL, quote_currency TEXT NOT NULL,
                effective_date TEXT NOT NULL, rate TEXT NOT NULL, PRIMARY KEY (generation, position));
            """;
        await cmd.ExecuteNonQueryAsync(ct);
        tx.Commit();
        return store;
    }

    private async Task<SqliteConnection> OpenAsync(CancellationToken ct)
    {
        var c = new SqliteConnection(_connectionString);
        await c.OpenAsync(ct);
        return c;
    }

    private static string OwnerKey(OwnerGroup g) => g.IsAll ? "*" : g.Id ?? "";

    private static OwnerGroup Owner(string key) => key == "*" ? OwnerGroup.All : OwnerGroup.Of(key.Length == 0 ? null : key);

    private static decimal Dec(SqliteDataReader r, int i) => decimal.Parse(r.GetString(i), NumberStyles.Number, CultureInfo.InvariantCulture);

    private static DateOnly Day(SqliteDataReader r, int i) => DateOnly.ParseExact(r.GetString(i), "yyyy-MM-dd", CultureInfo.InvariantCulture);

    public async Task<int> CurrentGenerationAsync(CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT generation FROM rm_current WHERE id = 1";
        return Convert.ToInt32(await cmd.ExecuteScalarAsync(ct), CultureInfo.InvariantCulture);
    }

    public Task<long> CursorAsync(string name, CancellationToken ct = default) =>
        PositionAsync("SELECT position FROM log_cursor WHERE name = $key", name, ct);

    /// <summary>A stored position (a checkpoint or a cursor) under its key; 0 when there is none yet.</summary>
    private async Task<long> PositionAsync(string sql, object key, CancellationToken ct)
    {
        await using var c = await OpenAsync(ct);
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.Parameters.AddWithValue("$key", key);
        return await cmd.ExecuteScalarAsync(ct) is long p ? p : 0;
    }

    public async Task<bool> AdvanceCursorAsync(string name, long expected, long position, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        using var cmd = c.CreateCommand();
        // A first advance inserts the row and must expect 0; later ones swap only from the expected position.
        cmd.CommandText = expected == 0
            ? "INSERT INTO log_cursor (name, position) VALUES ($n, $to) ON CONFLICT (name) DO UPDATE SET position = $to WHERE log_cursor.position = 0"
            : "UPDATE log_cursor SET position = $to WHERE name = $n AND position = $from";
        cmd.Parameters.AddWithValue("$n", name);
        cmd.Parameters.AddWithValue("$from", expected);
        cmd.Parameters.AddWithValue("$to", position);
        return await cmd.ExecuteNonQueryAsync(ct) == 1;
    }

    public Task<long> CheckpointAsync(int generation, CancellationToken ct = default) =>
        PositionAsync("SELECT position FROM rm_checkpoint WHERE generation = $key", generation, ct);

    public async Task<bool> CommitAsync(int generation, long expectedCheckpoint, ProjectionChanges changes, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        using var tx = c.BeginTransaction(deferred: false); // the write lock first: the compare-and-swap below is then atomic
        SqliteCommand Cmd(string sql)
        {
            var cmd = c.CreateCommand();
            cmd.Transaction = tx;
            cmd.CommandText = sql;
            return cmd;
        }
        // A retired generation (a rebuild switched away from it) gets no checkpoint row, so nothing is written.
        using (var cas = Cmd("""
            INSERT OR IGNORE INTO rm_checkpoint (generation, position) SELECT $g, 0 WHERE $g >= (SELECT generation FROM rm_current WHERE id = 1);
            UPDATE rm_checkpoint SET position = $to WHERE generation = $g AND position = $from AND $g >= (SELECT generation FROM rm_current WHERE id = 1);
            SELECT changes();
            """))
        {
            cas.Parameters.AddWithValue("$g", generation);
            cas.Parameters.AddWithValue("$from", expectedCheckpoint);
            cas.Parameters.AddWithValue("$to", changes.Position);
            if ((long)(await cas.ExecuteScalarAsync(ct))! != 1) return false; // rolled back on dispose
        }
        foreach (var table in new[] { "rm_nrr", "rm_bridge", "rm_churn_reasons" })
        {
            using var delete = Cmd($"DELETE FROM {table} WHERE generation = $g AND window_kind = $k AND window_from = $f");
            delete.Parameters.AddWithValue("$g", generation);
            var k = delete.Parameters.Add("$k", SqliteType.Text);
            var f = delete.Parameters.Add("$f", SqliteType.Text);
            foreach (var (key, _) in changes.Windows)
            {
                k.Value = WindowKey.KindName(key.Kind);
                f.Value = Dates.Format(key.From);
                delete.ExecuteNonQuery();
            }
        }
        using (var nrr = Cmd("INSERT INTO rm_nrr VALUES ($g, $k, $f, $t, $o, $1, $2, $3, $4, $5, $6, $7, $8, $9)"))
            foreach (var (key, report) in changes.Windows)
                foreach (var r in report.Nrr)
                    Row(nrr, generation, key, r.Owner, r.OpeningMrr, r.Expansion, r.Contraction, r.Churn, r.Reactivation, r.ClosingMrr, r.AccountsOpening, r.AccountsRetained, r.Currency);
        using (var bridge = Cmd("INSERT INTO rm_bridge VALUES ($g, $k, $f, $t, $o, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"))
            foreach (var (key, report) in changes.Windows)
                foreach (var r in report.Bridge)
                    Row(bridge, generation, key, r.Owner, r.OpeningMrr, r.New, r.Expansion, r.Contraction, r.Churn, r.Reactivation, r.TransferIn, r.TransferOut, r.ClosingMrr, r.AccountsChurned, r.Currency);
        using (var churn = Cmd("INSERT INTO rm_churn_reasons VALUES ($g, $k, $f, $t, $o, $1, $2, $3, $4)"))
            foreach (var (key, report) in changes.Windows)
                foreach (var r in report.ChurnReasons.Concat(report.ChurnReasonsByOwner))
                    Row(churn, generation, key, r.Owner, r.Reason, r.MrrLost, r.Accounts, r.Currency);
        using (var rate = Cmd("INSERT OR REPLACE INTO rm_fx_rate VALUES ($g, $p, $c, $q, $d, $r)"))
            foreach (var r in changes.Rates)
            {
                rate.Parameters.Clear();
                rate.Parameters.AddWithValue("$g", generation);
                rate.Parameters.AddWithValue("$p", r.Position);
                rate.Parameters.AddWithValue("$c", r.Currency);
                rate.Parameters.AddWithValue("$q", r.QuoteCurrency);
                rate.Parameters.AddWithValue("$d", Dates.Format(r.EffectiveDate));
                rate.Parameters.AddWithValue("$r", Money.Format(r.Rate));
                rate.ExecuteNonQuery();
            }
        using (var history = Cmd("INSERT OR REPLACE INTO rm_account_history VALUES ($g, $a, $d)"))
        {
            history.Parameters.AddWithValue("$g", generation);
            var a = history.Parameters.Add("$a", SqliteType.Text);
            var d = history.Parameters.Add("$d", SqliteType.Blob);
            foreach (var account in changes.Accounts)
            {
                a.Value = account.AccountId;
                d.Value = account.ToBytes();
                history.ExecuteNonQuery();
            }
        }
        tx.Commit();
        return true;
    }

    /// <summary>Binds a window row: the key columns, then the values (money as exact text) in column order.</summary>
    private static void Row(SqliteCommand cmd, int generation, WindowKey key, OwnerGroup owner, params object[] values)
    {
        cmd.Parameters.Clear();
        cmd.Parameters.AddWithValue("$g", generation);
        cmd.Parameters.AddWithValue("$k", WindowKey.KindName(key.Kind));
        cmd.Parameters.AddWithValue("$f", Dates.Format(key.From));
        cmd.Parameters.AddWithValue("$t", Dates.Format(key.To));
        cmd.Parameters.AddWithValue("$o", OwnerKey(owner));
        for (int i = 0; i < values.Length; i++)
            cmd.Parameters.AddWithValue($"${i + 1}", values[i] is decimal m ? Money.Format(m) : values[i]);
        cmd.ExecuteNonQuery();
    }

    public async Task<bool> SwitchAsync(int generation, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        using var tx = c.BeginTransaction(deferred: false);
        using (var check = c.CreateCommand())
        {
            check.Transaction = tx;
            check.CommandText = """
                SELECT COALESCE((SELECT position FROM rm_checkpoint WHERE generation = $g), -1)
                    >= COALESCE((SELECT k.position FROM rm_current r JOIN rm_checkpoint k ON k.generation = r.generation WHERE r.id = 1), 0)
                """;
            check.Parameters.AddWithValue("$g", generation);
            if ((long)(await check.ExecuteScalarAsync(ct))! == 0) return false;
        }
        using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = """
            UPDATE rm_current SET generation = $g WHERE id = 1;
            DELETE FROM rm_nrr WHERE generation < $g; DELETE FROM rm_bridge WHERE generation < $g;
            DELETE FROM rm_churn_reasons WHERE generation < $g; DELETE FROM rm_account_history WHERE generation < $g;
            DELETE FROM rm_fx_rate WHERE generation < $g;
            DELETE FROM rm_checkpoint WHERE generation < $g;
            """;
        cmd.Parameters.AddWithValue("$g", generation);
        await cmd.ExecuteNonQueryAsync(ct);
        tx.Commit();
        return true;
    }

    public async Task<ReadModelView?> ReadViewAsync(WindowKind? kind, DateOnly from, DateOnly to, bool histories, Func<int, long, bool>? historiesHeld = null, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        using var tx = c.BeginTransaction(deferred: true); // one WAL snapshot for every read below
        int generation;
        long position;
        using (var cmd = c.CreateCommand())
        {
            cmd.Transaction = tx;
            cmd.CommandText = "SELECT r.generation, COALESCE(k.position, 0) FROM rm_current r LEFT JOIN rm_checkpoint k ON k.generation = r.generation WHERE r.id = 1";
            using var r = cmd.ExecuteReader();
            r.Read();
            (generation, position) = (r.GetInt32(0), r.GetInt64(1));
        }
        if (position == 0) return null;
        var windows = kind is { } k ? ReadWindows(c, tx, generation, k, from, to) : [];
        bool needHistories = histories || (windows.Any(w => w.Nrr.Count == 0 && w.Bridge.Count == 0 && w.ChurnReasons.Count == 0) && historiesHeld?.Invoke(generation, position) != true);
        return new ReadModelView(generation, position, windows, needHistories ? ReadHistories(c, tx, generation) : null) { Rates = ReadRates(c, tx, generation, position) };
    }

    public async Task<IReadOnlyList<WindowReport>> WindowReportsAsync(int generation, WindowKind kind, DateOnly from, DateOnly to, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        return ReadWindows(c, null, generation, kind, from, to);
    }

    private static IReadOnlyList<WindowReport> ReadWindows(SqliteConnection c, SqliteTransaction? tx, int generation, WindowKind kind, DateOnly from, DateOnly to)
    {
        var windows = new SortedDictionary<DateOnly, (DateOnly To, List<NrrRow> Nrr, List<BridgeRow> Bridge, List<ChurnReasonRow> Churn)>();
        (DateOnly To, List<NrrRow> Nrr, List<BridgeRow> Bridge, List<ChurnReasonRow> Churn) At(DateOnly f, DateOnly t) =>
            windows.TryGetValue(f, out var w) ? w : windows[f] = (t, [], [], []);
        foreach (var w in Window.Calendar(kind, from, to)) At(w.From, w.To);
        SqliteDataReader Query(string columns, string table)
        {
            var cmd = c.CreateCommand();
            cmd.Transaction = tx;
            cmd.CommandText = $"SELECT window_from, window_to, owner_key, {columns} FROM {table} WHERE generation = $g AND window_kind = $k AND window_from >= $from AND window_from < $to";
            cmd.Parameters.AddWithValue("$g", generation);
            cmd.Parameters.AddWithValue("$k", WindowKey.KindName(kind));
            cmd.Parameters.AddWithValue("$from", Dates.Format(from));
            cmd.Parameters.AddWithValue("$to", Dates.Format(to));
            return cmd.ExecuteReader();
        }
        using (var r = Query("opening_mrr, expansion, contraction, churn, reactivation, closing_mrr, accounts_opening, accounts_retained, currency", "rm_nrr"))
            while (r.Read())
                At(Day(r, 0), Day(r, 1)).Nrr.Add(new NrrRow(Owner(r.GetString(2)), Dec(r, 3), Dec(r, 4), Dec(r, 5), Dec(r, 6), Dec(r, 7), Dec(r, 8), r.GetInt32(9), r.GetInt32(10), Currency(r, 11)));
        using (var r = Query("opening_mrr, new_mrr, expansion, contraction, churn, reactivation, transfer_in, transfer_out, closing_mrr, accounts_churned, currency", "rm_bridge"))
            while (r.Read())
                At(Day(r, 0), Day(r, 1)).Bridge.Add(new BridgeRow(Owner(r.GetString(2)), Dec(r, 3), Dec(r, 4), Dec(r, 5), Dec(r, 6), Dec(r, 7), Dec(r, 8), Dec(r, 9), Dec(r, 10), Dec(r, 11), r.GetInt32(12), 0, Currency(r, 13)));
        using (var r = Query("reason, mrr_lost, accounts, currency", "rm_churn_reasons"))
            while (r.Read())
                At(Day(r, 0), Day(r, 1)).Churn.Add(new ChurnReasonRow(Owner(r.GetString(2)), r.GetString(3), Dec(r, 4), r.GetInt32(5), Currency(r, 6)));
        return ReadModelReports.Assemble(windows.Select(kv => (new Window(kv.Key, kv.Value.To), kv.Value.Nrr, kv.Value.Bridge, kv.Value.Churn)));
    }

    private static string Currency(SqliteDataReader r, int i) => Vocabulary.Share(r.GetString(i));

    private static IReadOnlyList<RecordedRate> ReadRates(SqliteConnection c, SqliteTransaction? tx, int generation, long position)
    {
        var rates = new List<RecordedRate>();
        using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "SELECT position, currency, quote_currency, effective_date, rate FROM rm_fx_rate WHERE generation = $g AND position <= $p ORDER BY position";
        cmd.Parameters.AddWithValue("$g", generation);
        cmd.Parameters.AddWithValue("$p", position);
        using var r = cmd.ExecuteReader();
        while (r.Read()) rates.Add(new RecordedRate(r.GetInt64(0), Vocabulary.Share(r.GetString(1)), Vocabulary.Share(r.GetString(2)), Day(r, 3), Dec(r, 4)));
        return rates;
    }

    public async Task<IReadOnlyList<AccountHistory>> AccountHistoriesAsync(int generation, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        return ReadHistories(c, null, generation);
    }

    private static IReadOnlyList<AccountHistory> ReadHistories(SqliteConnection c, SqliteTransaction? tx, int generation)
    {
        var result = new List<AccountHistory>();
        using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "SELECT data FROM rm_account_history WHERE generation = $g ORDER BY account_id";
        cmd.Parameters.AddWithValue("$g", generation);
        using var r = cmd.ExecuteReader();
        while (r.Read()) result.Add(AccountHistory.FromBytes((byte[])r.GetValue(0)));
        return result;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
