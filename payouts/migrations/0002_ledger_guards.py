"""PostgreSQL guards the ledger itself: entries are append-only, and each transaction sums to zero at commit.

TRUNCATE is left to the table owner (the test suite empties tables with it); the application never issues it.
"""

from django.db import migrations

GUARDS = """
CREATE FUNCTION payouts_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger entries are append-only: post a reversing entry instead of % on entry %',
        TG_OP, OLD.id USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER payouts_entry_no_update_delete BEFORE UPDATE OR DELETE ON payouts_entry
    FOR EACH ROW EXECUTE FUNCTION payouts_entry_append_only();

CREATE FUNCTION payouts_transaction_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE total numeric;
BEGIN
    SELECT COALESCE(SUM(amount), 0) INTO total FROM payouts_entry WHERE transaction_id = NEW.transaction_id;
    IF total <> 0 THEN
        RAISE EXCEPTION 'ledger transaction % does not sum to zero (off by %)', NEW.transaction_id, total
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER payouts_entry_balanced AFTER INSERT ON payouts_entry
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION payouts_transaction_balanced();
"""

DROP = """
DROP TRIGGER IF EXISTS payouts_entry_balanced ON payouts_entry;
DROP TRIGGER IF EXISTS payouts_entry_no_update_delete ON payouts_entry;
DROP FUNCTION IF EXISTS payouts_transaction_balanced();
DROP FUNCTION IF EXISTS payouts_entry_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("payouts", "0001_initial")]
    operations = [migrations.RunSQL(GUARDS, DROP)]
