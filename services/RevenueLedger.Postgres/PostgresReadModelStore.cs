using Npgsql;
using NpgsqlTypes;
using RevenueLedger.Application.Projections;
using RevenueLedger.Domain;
using RevenueLedger.Domain.Reporting;

namespace RevenueLedger.Postgres;

/// <summary>
/// Read models in PostgreSQL, next to the log (same schema). Rows carry their generation; the documented views in
/// the <c>reporting</c> schema show only the current one.
/// </summary>
public sealed class PostgresReadModelStore : IReadModelStore, RevenueLedger.EventStore.IConnectionPoolOwner
{
    private readonly NpgsqlDataSource _db;

    private PostgresReadModelStore(NpgsqlDataSource db) => _db = db;

    public void ClearPool() => _db.Clear();

    public static async Task<PostgresReadModelStore> OpenAsync(string connectionString, CancellationToken ct = default)
    {
        var store = new PostgresReadModelStore(RevenueLedger.Postgres.PostgresDataSource.Create(connectionString));
        try
        {
            await store.MigrateAsync(ct);
        }
        catch
        {
            await store.DisposeAsync();
            throw;
        }
        return store;
    }

    /// <summary>
    /// The schema of the BI views: <c>reporting</c> for a ledger in <c>public</c>, <c>&lt;schema&gt;_reporting</c> for a
    /// ledger in its own schema (several ledgers can share one database).
    /// </summary>
    public static string ReportingSchema(string? ledgerSchema) =>
        string.IsNullOrEmpty(ledgerSchema) || ledgerSchema == "public" ? "reporting" : ledgerSchema + "_reporting";

    /// <summary>The read-only role BI tools log in as (grant it LOGIN and a password, or grant it to a login role).</summary>
    public const string BiRole = "ledger_bi";

    private async Task MigrateAsync(CancellationToken ct)
    {
        await using var c = await _db.OpenConnectionAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        await Exec(c, tx, "SELECT pg_advisory_xact_lock(7410, 2)", ct);
        // Rows from before per-currency sums (no currency column) are derived data: dropped with the views over them,
        // and projected again from 0 (the views are created again below).
        await using (var old = new NpgsqlCommand(
            "SELECT to_regclass('rm_nrr') IS NOT NULL AND NOT EXISTS (SELECT FROM pg_attribute WHERE attrelid = to_regclass('rm_nrr') AND attname = 'currency')", c, tx))
            if ((bool)(await old.ExecuteScalarAsync(ct))!)
                await Exec(c, tx, "DROP TABLE IF EXISTS rm_nrr, rm_bridge, rm_churn_reasons, rm_account_history CASCADE; DELETE FROM rm_checkpoint", ct);
        await Exec(c, tx, """
            CREATE TABLE IF NOT EXISTS rm_current (id int PRIMARY KEY CHECK (id = 1), generation int NOT NULL);
            INSERT INTO rm_current (id, generation) VALUES (1, 1) ON CONFLICT (id) DO NOTHING;
            CREATE TABLE IF NOT EXISTS rm_checkpoint (generation int PRIMARY KEY, position bigint NOT NULL);
            CREATE TABLE IF NOT EXISTS log_cursor (name text PRIMARY KEY, position bigint NOT NULL);
            CREATE TABLE IF NOT EXISTS rm_nrr (
                generation int NOT NULL, window_kind text NOT NULL, window_from date NOT NULL, window_to date NOT NULL,
                owner_key text NOT NULL, owner_id text NULL,
                opening_mrr numeric NOT NULL, expansion numeric NOT NULL, contraction numeric NOT NULL, churn numeric NOT NULL,
                reactivation numeric NOT NULL, closing_mrr numeric NOT NULL, accounts_opening int NOT NULL, accounts_retained int NOT NULL,
                currency text NOT NULL,
                PRIMARY KEY (generation, window_kind, window_from, owner_key, currency));
            CREATE TABLE IF NOT EXISTS rm_bridge (
                generation int NOT NULL, window_kind text NOT NULL, window_from date NOT NULL, window_to date NOT NULL,
                owner_key text NOT NULL, owner_id text NULL,
                opening_mrr numeric NOT NULL, new_mrr numeric NOT NULL, expansion numeric NOT NULL, contraction numeric NOT NULL,
                churn numeric NOT NULL, reactivation numeric NOT NULL, transfer_in numeric NOT NULL, transfer_out numeric NOT NULL,
                closing_mrr numeric NOT NULL, accounts_churned int NOT NULL, currency text NOT NULL,
                PRIMARY KEY (generation, window_kind, window_from, owner_key, currency));
            CREATE TABLE IF NOT EXISTS rm_churn_reasons (
                generation int NOT NULL, window_kind text NOT NULL, window_from date NOT NULL, window_to date NOT NULL,
                owner_key text NOT NULL, owner_id text NULL, reason text NOT NULL, mrr_lost numeric NOT NULL, accounts int NOT NULL,
                currency text NOT NULL,
                PRIMARY KEY (generation, window_kind, window_from, owner_key, reason, currency));
            CREATE TABLE IF NOT EXISTS rm_fx_rate (
                generation int NOT NULL, position bigint NOT NULL, currency text NOT NULL, quote_currency text NOT NULL,
                effective_date date NOT NULL, rate numeric NOT NULL, PRIMARY KEY (generation, position));
            CREATE TABLE IF NOT EXISTS rm_account_history (
                generation int NOT NULL, account_id text COLLATE "C" NOT NULL, data bytea NOT NULL,
                PRIMARY KEY (generation, account_id));
            """, ct);
        // A history is written for every account an event changed: its key compares byte by byte, as the log's ids do.
        await RevenueLedger.Postgres.PostgresEventStore.CollateIdsAsync(c, tx, "rm_account_history", ["account_id"], ct);
        // Histories are dense binary that compresses about 2:1, and compressing them on the server took two thirds
        // of a full catch-up's write (0.9 of 1.35 s at a million events); they are read whole, by the gateway only.
        // Checked first: ALTER TABLE takes an exclusive lock even when there is nothing to change.
        await using (var storage = new NpgsqlCommand(
            "SELECT attstorage::text FROM pg_attribute WHERE attrelid = 'rm_account_history'::regclass AND attname = 'data'", c, tx))
            if ((string?)await storage.ExecuteScalarAsync(ct) != "e")
                await Exec(c, tx, "ALTER TABLE rm_account_history ALTER COLUMN data SET STORAGE EXTERNAL", ct);
        // And kept in the row up to a page: a typical history is 2–5 KB, and the default (out of line above 2 KB, in
        // chunks with an index of their own) made a catch-up's write twice the work for the server.
        await using (var target = new NpgsqlCommand(
            "SELECT coalesce('toast_tuple_target=8160' = ANY(reloptions), false) FROM pg_class WHERE oid = 'rm_account_history'::regclass", c, tx))
            if (await target.ExecuteScalarAsync(ct) is not true)
                await Exec(c, tx, "ALTER TABLE rm_account_history SET (toast_tuple_target = 8160)", ct);
        string ledgerSchema;
        await using (var current = new NpgsqlCommand("SELECT current_schema()", c, tx))
            ledgerSchema = (string?)await current.ExecuteScalarAsync(ct) ?? "public";
        await CreateReportingViewsAsync(c, tx, ledgerSchema, ct);
        await tx.CommitAsync(ct);
    }

    /// <summary>
    /// Documented views for BI tools (docs/bi.md): one per report, the current generation only, columns named as in
    /// the spec; and a role that can read these views and nothing else.
    /// </summary>
    private static async Task CreateReportingViewsAsync(NpgsqlConnection c, NpgsqlTransaction tx, string schema, CancellationToken ct)
    {
        var ledger = "\"" + schema.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
        var reporting = "\"" + ReportingSchema(schema).Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
        const string Current = "generation = (SELECT generation FROM {0}.rm_current WHERE id = 1)";
        string Owner(string alias) => $"CASE WHEN {alias}.owner_key = '*' THEN '*' ELSE {alias}.owner_id END AS \"ownerId\"";
        await Exec(c, tx, $"""
            CREATE SCHEMA IF NOT EXISTS {reporting};
            CREATE OR REPLACE VIEW {reporting}.read_model_position AS
                SELECT c.generation, k.position FROM {ledger}.rm_current c LEFT JOIN {ledger}.rm_checkpoint k ON k.generation = c.generation;
            CREATE OR REPLACE VIEW {reporting}.nrr AS
                SELECT n.window_kind AS "windowKind", n.window_from AS "from", n.window_to AS "to", {Owner("n")}, n.currency,
                       n.opening_mrr AS "openingMrr", n.expansion, n.contraction, n.churn, n.reactivation, n.closing_mrr AS "closingMrr",
                       n.accounts_opening AS "accountsOpening", n.accounts_retained AS "accountsRetained",
                       n.closing_mrr / NULLIF(n.opening_mrr, 0) AS nrr,
                       (n.opening_mrr - n.contraction - n.churn) / NULLIF(n.opening_mrr, 0) AS grr
                FROM {ledger}.rm_nrr n WHERE n.{string.Format(System.Globalization.CultureInfo.InvariantCulture, Current, ledger)};
            CREATE OR REPLACE VIEW {reporting}.bridge AS
                SELECT b.window_kind AS "windowKind", b.window_from AS "from", b.window_to AS "to", {Owner("b")}, b.currency,
                       b.opening_mrr AS "openingMrr", b.new_mrr AS "new", b.expansion, b.contraction, b.churn, b.reactivation,
                       b.transfer_in AS "transferIn", b.transfer_out AS "transferOut", b.closing_mrr AS "closingMrr",
                       b.accounts_churned AS "accountsChurned"
                FROM {ledger}.rm_bridge b WHERE b.{string.Format(System.Globalization.CultureInfo.InvariantCulture, Current, ledger)};
            CREATE OR REPLACE VIEW {reporting}.churn_reasons AS
                SELECT r.window_kind AS "windowKind", r.window_from AS "from", r.window_to AS "to", {Owner("r")}, r.currency,
                       r.reason, r.mrr_lost AS "mrrLost", r.accounts,
                       r.mrr_lost / NULLIF(SUM(r.mrr_lost) OVER w, 0) AS share,
                       SUM(r.mrr_lost) OVER (w ORDER BY r.mrr_lost DESC, r.reason COLLATE "C" ROWS UNBOUNDED PRECEDING) / NULLIF(SUM(r.mrr_lost) OVER w, 0) AS "cumulativeShare"
                FROM {ledger}.rm_churn_reasons r WHERE r.{string.Format(System.Globalization.CultureInfo.InvariantCulture, Current, ledger)}
                WINDOW w AS (PARTITION BY r.window_kind, r.window_from, r.owner_key, r.currency);
            CREATE OR REPLACE VIEW {reporting}.fx_rates AS
                SELECT f.currency, f.quote_currency AS "quoteCurrency", f.effective_date AS "effectiveDate", f.rate, f.position
                FROM {ledger}.rm_fx_rate f WHERE f.{string.Format(System.Globalization.CultureInfo.InvariantCulture, Current, ledger)};
            CREATE OR REPLACE FUNCTION {reporting}.rate_in_force(from_currency text, into_currency text, on_day date) RETURNS numeric
                LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
                DECLARE found numeric;
                BEGIN
                    IF from_currency = into_currency OR from_currency = '' THEN RETURN 1; END IF;
                    SELECT f.rate INTO found FROM {ledger}.rm_fx_rate f
                        WHERE f.generation = (SELECT generation FROM {ledger}.rm_current WHERE id = 1)
                          AND f.currency = from_currency AND f.quote_currency = into_currency AND f.effective_date <= on_day
                        ORDER BY f.effective_date DESC, f.position DESC LIMIT 1;
                    IF found IS NULL THEN
                        RAISE EXCEPTION 'fx-rate-missing: no %→% exchange rate is in force on %', from_currency, into_currency, on_day
                            USING ERRCODE = 'P0001', HINT = 'record one (FxRateRecorded) effective on or before that day';
                    END IF;
                    RETURN found;
                END $fn$;
            CREATE OR REPLACE FUNCTION {reporting}.nrr_in(reporting_currency text, kind text, from_day date, to_day date)
                RETURNS TABLE ("windowKind" text, "from" date, "to" date, "ownerId" text, currency text, "openingMrr" numeric, expansion numeric,
                               contraction numeric, churn numeric, reactivation numeric, "closingMrr" numeric, "accountsOpening" int,
                               "accountsRetained" int, nrr numeric, grr numeric)
                LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
                WITH converted AS (
                    SELECT n.*, CASE WHEN n.opening_mrr = 0 AND n.expansion = 0 AND n.contraction = 0 AND n.churn = 0 AND n.reactivation = 0 AND n.closing_mrr = 0
                                     THEN 1 ELSE {reporting}.rate_in_force(n.currency, reporting_currency, n.window_from) END AS r
                    FROM {ledger}.rm_nrr n WHERE n.{string.Format(System.Globalization.CultureInfo.InvariantCulture, Current, ledger)}
                      AND n.window_kind = kind AND n.window_from >= from_day AND n.window_from < to_day)
                SELECT c.window_kind, c.window_from, c.window_to, CASE WHEN c.owner_key = '*' THEN '*' ELSE c.owner_id END, reporting_currency,
                       sum(c.opening_mrr * c.r), sum(c.expansion * c.r), sum(c.contraction * c.r), sum(c.churn * c.r), sum(c.reactivation * c.r),
                       sum(c.closing_mrr * c.r), sum(c.accounts_opening)::int, sum(c.accounts_retained)::int,
                       sum(c.closing_mrr * c.r) / NULLIF(sum(c.opening_mrr * c.r), 0),
                       (sum(c.opening_mrr * c.r) - sum(c.contraction * c.r) - sum(c.churn * c.r)) / NULLIF(sum(c.opening_mrr * c.r), 0)
                FROM converted c GROUP BY c.window_kind, c.window_from, c.window_to, c.owner_key, c.owner_id
                $fn$;
            CREATE OR REPLACE FUNCTION {reporting}.bridge_in(reporting_currency text, kind text, from_day date, to_day date)
                RETURNS TABLE ("windowKind" text, "from" date, "to" date, "ownerId" text, currency text, "openingMrr" numeric, new numeric,
                               expansion numeric, contraction numeric, churn numeric, reactivation numeric, "transferIn" numeric,
                               "transferOut" numeric, "fxImpact" numeric, "closingMrr" numeric, "accountsChurned" int)
                LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
                WITH converted AS (
                    SELECT b.*,
                           CASE WHEN b.opening_mrr = 0 AND b.new_mrr = 0 AND b.expansion = 0 AND b.contraction = 0 AND b.churn = 0 AND b.reactivation = 0
                                     AND b.transfer_in = 0 AND b.transfer_out = 0 AND b.closing_mrr = 0
                                THEN 1 ELSE {reporting}.rate_in_force(b.currency, reporting_currency, b.window_from) END AS r,
                           CASE WHEN b.closing_mrr = 0 THEN NULL ELSE {reporting}.rate_in_force(b.currency, reporting_currency, b.window_to) END AS r_close
                    FROM {ledger}.rm_bridge b WHERE b.{string.Format(System.Globalization.CultureInfo.InvariantCulture, Current, ledger)}
                      AND b.window_kind = kind AND b.window_from >= from_day AND b.window_from < to_day)
                SELECT c.window_kind, c.window_from, c.window_to, CASE WHEN c.owner_key = '*' THEN '*' ELSE c.owner_id END, reporting_currency,
                       sum(c.opening_mrr * c.r), sum(c.new_mrr * c.r), sum(c.expansion * c.r), sum(c.contraction * c.r), sum(c.churn * c.r),
                       sum(c.reactivation * c.r), sum(c.transfer_in * c.r), sum(c.transfer_out * c.r),
                       sum(c.closing_mrr * (coalesce(c.r_close, c.r) - c.r)), sum(c.closing_mrr * coalesce(c.r_close, c.r)), sum(c.accounts_churned)::int
                FROM converted c GROUP BY c.window_kind, c.window_from, c.window_to, c.owner_key, c.owner_id
                $fn$;
            DO $$ BEGIN
                IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{BiRole}') THEN CREATE ROLE {BiRole} NOLOGIN; END IF;
            EXCEPTION
                WHEN duplicate_object THEN NULL; -- created meanwhile by another database's migration
                WHEN insufficient_privilege THEN RAISE NOTICE 'cannot create role {BiRole}; create it, then grant it the reporting views';
            END $$;
            DO $$ BEGIN
                GRANT USAGE ON SCHEMA {reporting} TO {BiRole};
                GRANT SELECT ON ALL TABLES IN SCHEMA {reporting} TO {BiRole};
                GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA {reporting} TO {BiRole};
            EXCEPTION WHEN undefined_object THEN RAISE NOTICE 'role {BiRole} does not exist';
            END $$;
            """, ct);
        await CreateInsightViewsAsync(c, tx, ledger, reporting, ct);
    }

    /// <summary>
    /// Signals and the reason catalogue (docs/bi.md), read from the log up to the read models' position — they change
    /// no MRR, so no read model holds them. Only where the log is this store's own `events` table.
    /// </summary>
    private static async Task CreateInsightViewsAsync(NpgsqlConnection c, NpgsqlTransaction tx, string ledger, string reporting, CancellationToken ct)
    {
        await using (var exists = new NpgsqlCommand($"SELECT to_regclass('{ledger.Replace("'", "''", StringComparison.Ordinal)}.events') IS NOT NULL", c, tx))
            if (await exists.ExecuteScalarAsync(ct) is not true) return;
        static string Literal(string s) => "'" + s.Replace("'", "''", StringComparison.Ordinal) + "'";
        var defaults = string.Join(", ", Domain.Insights.ReasonCatalogue.Defaults.Select(d => $"({Literal(d.Reason)}, {Literal(d.Label)}, {Literal(d.Function)})"));
        string known = $"(SELECT position FROM {reporting}.read_model_position)";
        string controllable = string.Join(", ", Domain.Insights.ResponsibleFunctions.All.Where(Domain.Insights.ResponsibleFunctions.IsControllableByOwner).Select(Literal));
        await Exec(c, tx, $"""
            CREATE OR REPLACE VIEW {reporting}.signals AS
                SELECT e.account_id AS "accountId", (e.payload::jsonb)->>'signal' AS signal, ((e.payload::jsonb)->>'value')::numeric AS value,
                       ((e.payload::jsonb)->>'effectiveDate')::date AS "effectiveDate", e.event_id AS "eventId", e.position
                FROM {ledger}.events e
                WHERE e.event_type = 'V1.SignalRecorded' AND e.position <= {known}
                  AND NOT EXISTS (SELECT 1 FROM {ledger}.events r WHERE r.event_type = 'V1.EventReversed' AND r.account_id = e.account_id
                                  AND (r.payload::jsonb)->>'targetEventId' = e.event_id AND r.position <= {known});
            CREATE OR REPLACE VIEW {reporting}.reason_catalogue AS
                WITH recorded AS (
                    SELECT DISTINCT ON ((e.payload::jsonb)->>'reason') (e.payload::jsonb)->>'reason' AS reason, (e.payload::jsonb)->>'label' AS label,
                           (e.payload::jsonb)->>'function' AS function, e.position
                    FROM {ledger}.events e WHERE e.event_type = 'V1.ReasonCatalogued' AND e.position <= {known}
                    ORDER BY (e.payload::jsonb)->>'reason', e.position DESC),
                defaults (reason, label, function) AS (VALUES {defaults})
                SELECT r.reason, r.label, r.function, r.function IN ({controllable}) AS "controllableByOwner", r.position FROM recorded r
                UNION ALL
                SELECT d.reason, d.label, d.function, d.function IN ({controllable}), NULL::bigint FROM defaults d
                WHERE NOT EXISTS (SELECT 1 FROM recorded r WHERE r.reason = d.reason);
            DO $$ BEGIN
                GRANT SELECT ON {reporting}.signals, {reporting}.reason_catalogue TO {BiRole};
            EXCEPTION WHEN undefined_object THEN RAISE NOTICE 'role {BiRole} does not exist';
            END $$;
            """, ct);
    }

    private static async Task Exec(NpgsqlConnection c, NpgsqlTransaction? tx, string sql, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, c, tx);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    // '*' is the company-wide row, '' the unassigned owner (owner ids are never empty).
    private static string OwnerKey(OwnerGroup g) => g.IsAll ? "*" : g.Id ?? "";

    private static OwnerGroup Owner(string key) => key == "*" ? OwnerGroup.All : OwnerGroup.Of(key.Length == 0 ? null : key);

    public async Task<int> CurrentGenerationAsync(CancellationToken ct = default)
    {
        await using var cmd = _db.CreateCommand("SELECT generation FROM rm_current WHERE id = 1");
        return (int)(await cmd.ExecuteScalarAsync(ct))!;
    }

    public async Task<long> CursorAsync(string name, CancellationToken ct = default)
    {
        await using var cmd = _db.CreateCommand("SELECT position FROM log_cursor WHERE name = @n");
        cmd.Parameters.AddWithValue("n", name);
        return await cmd.ExecuteScalarAsync(ct) is long p ? p : 0;
    }

    public async Task<bool> AdvanceCursorAsync(string name, long expected, long position, CancellationToken ct = default)
    {
        // A first advance inserts the row and must expect 0; later ones swap only from the expected position.
        await using var cmd = _db.CreateCommand(expected == 0
            ? "INSERT INTO log_cursor (name, position) VALUES (@n, @to) ON CONFLICT (name) DO UPDATE SET position = @to WHERE log_cursor.position = 0"
            : "UPDATE log_cursor SET position = @to WHERE name = @n AND position = @from");
        cmd.Parameters.AddWithValue("n", name);
        cmd.Parameters.AddWithValue("from", expected);
        cmd.Parameters.AddWithValue("to", position);
        return await cmd.ExecuteNonQueryAsync(ct) == 1;
    }

    public async Task<long> CheckpointAsync(int generation, CancellationToken ct = default)
    {
        await using var cmd = _db.CreateCommand("SELECT position FROM rm_checkpoint WHERE generation = @g");
        cmd.Parameters.AddWithValue("g", generation);
        return await cmd.ExecuteScalarAsync(ct) is long p ? p : 0;
    }

    public async Task<bool> CommitAsync(int generation, long expectedCheckpoint, ProjectionChanges changes, CancellationToken ct = default)
    {
        await using var c = await _db.OpenConnectionAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        // Compare-and-swap first: the row lock it takes also makes a concurrent projector wait, then fail its CAS.
        await using (var cas = new NpgsqlCommand("""
            INSERT INTO rm_checkpoint (generation, position)
                SELECT @g, 0 WHERE @g >= (SELECT generation FROM rm_current WHERE id = 1)
                ON CONFLICT (generation) DO NOTHING;
            UPDATE rm_checkpoint SET position = @to
                WHERE generation = @g AND position = @from AND @g >= (SELECT generation FROM rm_current WHERE id = 1);
            """, c, tx))
        {
            cas.Parameters.AddWithValue("g", generation);
            cas.Parameters.AddWithValue("from", expectedCheckpoint);
            cas.Parameters.AddWithValue("to", changes.Position);
            // A retired generation (a rebuild switched away from it) gets no checkpoint row, so nothing is written.
            if (await cas.ExecuteNonQueryAsync(ct) < 1 || await CheckpointInTx(c, tx, generation, ct) != changes.Position)
            {
                await tx.RollbackAsync(ct);
                return false;
            }
        }

        if (changes.Windows.Count > 0)
        {
            var kinds = changes.Windows.Select(w => WindowKey.KindName(w.Key.Kind)).ToArray();
            var froms = changes.Windows.Select(w => w.Key.From).ToArray();
            await using var delete = new NpgsqlBatch(c, tx);
            foreach (var table in new[] { "rm_nrr", "rm_bridge", "rm_churn_reasons" })
            {
                var command = new NpgsqlBatchCommand($"DELETE FROM {table} WHERE generation = $1 AND (window_kind, window_from) IN (SELECT * FROM unnest($2::text[], $3::date[]))");
                command.Parameters.Add(new NpgsqlParameter { Value = generation });
                command.Parameters.Add(new NpgsqlParameter { Value = kinds });
                command.Parameters.Add(new NpgsqlParameter { Value = froms });
                delete.BatchCommands.Add(command);
            }
            await delete.ExecuteNonQueryAsync(ct);
        }
        // The window rows are few; written synchronously all the same (one await per value only adds work).
        await using (var nrr = await c.BeginBinaryImportAsync("COPY rm_nrr FROM STDIN (FORMAT BINARY)", ct))
        {
            foreach (var (key, report) in changes.Windows)
                foreach (var r in report.Nrr)
                {
                    StartWindowRow(nrr, generation, key, r.Owner);
                    foreach (var v in new[] { r.OpeningMrr, r.Expansion, r.Contraction, r.Churn, r.Reactivation, r.ClosingMrr }) nrr.Write(Money.Normalize(v), NpgsqlDbType.Numeric);
                    nrr.Write(r.AccountsOpening, NpgsqlDbType.Integer);
                    nrr.Write(r.AccountsRetained, NpgsqlDbType.Integer);
                    nrr.Write(r.Currency, NpgsqlDbType.Text);
                }
            await nrr.CompleteAsync(ct);
        }
        await using (var bridge = await c.BeginBinaryImportAsync("COPY rm_bridge FROM STDIN (FORMAT BINARY)", ct))
        {
            foreach (var (key, report) in changes.Windows)
                foreach (var r in report.Bridge)
                {
                    StartWindowRow(bridge, generation, key, r.Owner);
                    foreach (var v in new[] { r.OpeningMrr, r.New, r.Expansion, r.Contraction, r.Churn, r.Reactivation, r.TransferIn, r.TransferOut, r.ClosingMrr })
                        bridge.Write(Money.Normalize(v), NpgsqlDbType.Numeric);
                    bridge.Write(r.AccountsChurned, NpgsqlDbType.Integer);
                    bridge.Write(r.Currency, NpgsqlDbType.Text);
                }
            await bridge.CompleteAsync(ct);
        }
        await using (var churn = await c.BeginBinaryImportAsync("COPY rm_churn_reasons FROM STDIN (FORMAT BINARY)", ct))
        {
            foreach (var (key, report) in changes.Windows)
                foreach (var r in report.ChurnReasons.Concat(report.ChurnReasonsByOwner))
                {
                    StartWindowRow(churn, generation, key, r.Owner);
                    churn.Write(r.Reason, NpgsqlDbType.Text);
                    churn.Write(Money.Normalize(r.MrrLost), NpgsqlDbType.Numeric);
                    churn.Write(r.Accounts, NpgsqlDbType.Integer);
                    churn.Write(r.Currency, NpgsqlDbType.Text);
                }
            await churn.CompleteAsync(ct);
        }
        if (changes.Rates.Count > 0)
        {
            await using var rates = await c.BeginBinaryImportAsync("COPY rm_fx_rate FROM STDIN (FORMAT BINARY)", ct);
            foreach (var r in changes.Rates)
            {
                rates.StartRow();
                rates.Write(generation, NpgsqlDbType.Integer);
                rates.Write(r.Position, NpgsqlDbType.Bigint);
                rates.Write(r.Currency, NpgsqlDbType.Text);
                rates.Write(r.QuoteCurrency, NpgsqlDbType.Text);
                rates.Write(r.EffectiveDate, NpgsqlDbType.Date);
                rates.Write(r.Rate, NpgsqlDbType.Numeric);
            }
            await rates.CompleteAsync(ct);
        }
        if (changes.Accounts.Count > 0)
        {
            if (changes.Replaced > 0)
            {
                await using var delete = new NpgsqlCommand("DELETE FROM rm_account_history WHERE generation = @g AND account_id = ANY(@ids)", c, tx);
                delete.Parameters.AddWithValue("g", generation);
                delete.Parameters.AddWithValue("ids", changes.Accounts.Take(changes.Replaced).Select(a => a.AccountId).ToArray());
                await delete.ExecuteNonQueryAsync(ct);
            }
            await using var histories = await c.BeginBinaryImportAsync("COPY rm_account_history FROM STDIN (FORMAT BINARY)", ct);
            // Written synchronously, each history serialised into the same buffer: a step of a catch-up writes tens of
            // thousands of rows, and three awaits and a fresh array per row cost more than the server spends on them.
            using var buffer = new MemoryStream();
            foreach (var a in changes.Accounts)
            {
                ct.ThrowIfCancellationRequested();
                histories.StartRow();
                histories.Write(generation, NpgsqlDbType.Integer);
                histories.Write(a.AccountId, NpgsqlDbType.Text);
                histories.Write(a.Serialize(buffer), NpgsqlDbType.Bytea);
            }
            await histories.CompleteAsync(ct);
        }
        await tx.CommitAsync(ct);
        return true;
    }

    private static async Task<long> CheckpointInTx(NpgsqlConnection c, NpgsqlTransaction tx, int generation, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("SELECT position FROM rm_checkpoint WHERE generation = @g", c, tx);
        cmd.Parameters.AddWithValue("g", generation);
        return await cmd.ExecuteScalarAsync(ct) is long p ? p : -1;
    }

    private static void StartWindowRow(NpgsqlBinaryImporter w, int generation, WindowKey key, OwnerGroup owner)
    {
        w.StartRow();
        w.Write(generation, NpgsqlDbType.Integer);
        w.Write(WindowKey.KindName(key.Kind), NpgsqlDbType.Text);
        w.Write(key.From, NpgsqlDbType.Date);
        w.Write(key.To, NpgsqlDbType.Date);
        w.Write(OwnerKey(owner), NpgsqlDbType.Text);
        if (owner.IsAll || owner.Id is null) w.WriteNull(); else w.Write(owner.Id, NpgsqlDbType.Text);
    }

    public async Task<bool> SwitchAsync(int generation, CancellationToken ct = default)
    {
        await using var c = await _db.OpenConnectionAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        await using (var check = new NpgsqlCommand("""
            SELECT COALESCE((SELECT position FROM rm_checkpoint WHERE generation = @g), -1)
                >= COALESCE((SELECT k.position FROM rm_current r JOIN rm_checkpoint k ON k.generation = r.generation WHERE r.id = 1 FOR UPDATE OF r), 0)
            """, c, tx))
        {
            check.Parameters.AddWithValue("g", generation);
            if (!(bool)(await check.ExecuteScalarAsync(ct))!) return false;
        }
        await using (var cmd = new NpgsqlCommand("UPDATE rm_current SET generation = @g WHERE id = 1", c, tx))
        {
            cmd.Parameters.AddWithValue("g", generation);
            await cmd.ExecuteNonQueryAsync(ct);
        }
        foreach (var table in new[] { "rm_nrr", "rm_bridge", "rm_churn_reasons", "rm_account_history", "rm_fx_rate", "rm_checkpoint" })
        {
            await using var cmd = new NpgsqlCommand($"DELETE FROM {table} WHERE generation < @g", c, tx);
            cmd.Parameters.AddWithValue("g", generation);
            await cmd.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
        return true;
    }

    public async Task<ReadModelView?> ReadViewAsync(WindowKind? kind, DateOnly from, DateOnly to, bool histories, Func<int, long, bool>? historiesHeld = null, CancellationToken ct = default)
    {
        await using var c = await _db.OpenConnectionAsync(ct);
        // One snapshot: the position the report states is the position of every row it shows.
        await using var tx = await c.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, ct);
        int generation;
        long position;
        await using (var cmd = new NpgsqlCommand("SELECT r.generation, COALESCE(k.position, 0) FROM rm_current r LEFT JOIN rm_checkpoint k ON k.generation = r.generation WHERE r.id = 1", c, tx))
        await using (var r = await cmd.ExecuteReaderAsync(ct))
        {
            await r.ReadAsync(ct);
            (generation, position) = (r.GetInt32(0), r.GetInt64(1));
        }
        if (position == 0) return null;
        var windows = kind is { } k ? await ReadWindowsAsync(c, tx, generation, k, from, to, ct) : [];
        bool needHistories = histories || (windows.Any(w => w.Nrr.Count == 0 && w.Bridge.Count == 0 && w.ChurnReasons.Count == 0) && historiesHeld?.Invoke(generation, position) != true);
        var accountHistories = needHistories ? await ReadHistoriesAsync(c, tx, generation, ct) : null;
        var rates = new List<RecordedRate>();
        await using (var cmd = new NpgsqlCommand(
            "SELECT position, currency, quote_currency, effective_date, rate FROM rm_fx_rate WHERE generation = @g AND position <= @p ORDER BY position", c, tx))
        {
            cmd.Parameters.AddWithValue("g", generation);
            cmd.Parameters.AddWithValue("p", position);
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
                rates.Add(new RecordedRate(r.GetInt64(0), Vocabulary.Share(r.GetString(1)), Vocabulary.Share(r.GetString(2)), r.GetFieldValue<DateOnly>(3), r.GetDecimal(4)));
        }
        await tx.CommitAsync(ct);
        return new ReadModelView(generation, position, windows, accountHistories) { Rates = rates };
    }

    public async Task<IReadOnlyList<WindowReport>> WindowReportsAsync(int generation, WindowKind kind, DateOnly from, DateOnly to, CancellationToken ct = default)
    {
        await using var c = await _db.OpenConnectionAsync(ct);
        return await ReadWindowsAsync(c, null, generation, kind, from, to, ct);
    }

    private static async Task<IReadOnlyList<WindowReport>> ReadWindowsAsync(NpgsqlConnection c, NpgsqlTransaction? tx, int generation, WindowKind kind, DateOnly from, DateOnly to, CancellationToken ct)
    {
        var windows = new SortedDictionary<DateOnly, (DateOnly To, List<NrrRow> Nrr, List<BridgeRow> Bridge, List<ChurnReasonRow> Churn)>();
        (DateOnly To, List<NrrRow> Nrr, List<BridgeRow> Bridge, List<ChurnReasonRow> Churn) At(DateOnly f, DateOnly t) =>
            windows.TryGetValue(f, out var w) ? w : windows[f] = (t, [], [], []);
        foreach (var w in Window.Calendar(kind, from, to)) At(w.From, w.To);
        const string Where = "WHERE generation = @g AND window_kind = @k AND window_from >= @from AND window_from < @to";
        await using (var cmd = Query($"SELECT window_from, window_to, owner_key, opening_mrr, expansion, contraction, churn, reactivation, closing_mrr, accounts_opening, accounts_retained, currency FROM rm_nrr {Where}"))
        await using (var r = await cmd.ExecuteReaderAsync(ct))
            while (await r.ReadAsync(ct))
                At(r.GetFieldValue<DateOnly>(0), r.GetFieldValue<DateOnly>(1)).Nrr.Add(new NrrRow(Owner(r.GetString(2)), r.GetDecimal(3), r.GetDecimal(4), r.GetDecimal(5), r.GetDecimal(6), r.GetDecimal(7), r.GetDecimal(8), r.GetInt32(9), r.GetInt32(10), Vocabulary.Share(r.GetString(11))));
        await using (var cmd = Query($"SELECT window_from, window_to, owner_key, opening_mrr, new_mrr, expansion, contraction, churn, reactivation, transfer_in, transfer_out, closing_mrr, accounts_churned, currency FROM rm_bridge {Where}"))
        await using (var r = await cmd.ExecuteReaderAsync(ct))
            while (await r.ReadAsync(ct))
                At(r.GetFieldValue<DateOnly>(0), r.GetFieldValue<DateOnly>(1)).Bridge.Add(new BridgeRow(Owner(r.GetString(2)), r.GetDecimal(3), r.GetDecimal(4), r.GetDecimal(5), r.GetDecimal(6), r.GetDecimal(7), r.GetDecimal(8), r.GetDecimal(9), r.GetDecimal(10), r.GetDecimal(11), r.GetInt32(12), 0, Vocabulary.Share(r.GetString(13))));
        await using (var cmd = Query($"SELECT window_from, window_to, owner_key, reason, mrr_lost, accounts, currency FROM rm_churn_reasons {Where}"))
        await using (var r = await cmd.ExecuteReaderAsync(ct))
            while (await r.ReadAsync(ct))
                At(r.GetFieldValue<DateOnly>(0), r.GetFieldValue<DateOnly>(1)).Churn.Add(new ChurnReasonRow(Owner(r.GetString(2)), r.GetString(3), r.GetDecimal(4), r.GetInt32(5), Vocabulary.Share(r.GetString(6))));

        return ReadModelReports.Assemble(windows.Select(kv => (new Window(kv.Key, kv.Value.To), kv.Value.Nrr, kv.Value.Bridge, kv.Value.Churn)));

        NpgsqlCommand Query(string sql)
        {
            var cmd = new NpgsqlCommand(sql, c, tx);
            cmd.Parameters.AddWithValue("g", generation);
            cmd.Parameters.AddWithValue("k", WindowKey.KindName(kind));
            cmd.Parameters.AddWithValue("from", from);
            cmd.Parameters.AddWithValue("to", to);
            return cmd;
        }
    }

    public async Task<IReadOnlyList<AccountHistory>> AccountHistoriesAsync(int generation, CancellationToken ct = default)
    {
        await using var c = await _db.OpenConnectionAsync(ct);
        return await ReadHistoriesAsync(c, null, generation, ct);
    }

    private static async Task<IReadOnlyList<AccountHistory>> ReadHistoriesAsync(NpgsqlConnection c, NpgsqlTransaction? tx, int generation, CancellationToken ct)
    {
        var result = new List<AccountHistory>();
        await using var cmd = new NpgsqlCommand("SELECT data FROM rm_account_history WHERE generation = @g ORDER BY account_id", c, tx);
        cmd.Parameters.AddWithValue("g", generation);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct)) result.Add(AccountHistory.FromBytes(r.GetFieldValue<byte[]>(0)));
        return result;
    }

    public ValueTask DisposeAsync() => _db.DisposeAsync();
}
