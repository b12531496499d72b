"""The audit log is append-only in PostgreSQL, and the daily cap on warned tasks counts from an index.

The index lives on tasks' assignment table but serves only this app's daily cap (a worker's assignments since
midnight), so it is created here rather than in tasks' migrations.
"""

from django.db import migrations

GUARDS = """
CREATE FUNCTION fairness_auditlog_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % on entry % refused', TG_OP, OLD.id
        USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER fairness_auditlog_no_update_delete BEFORE UPDATE OR DELETE ON fairness_auditlog
    FOR EACH ROW EXECUTE FUNCTION fairness_auditlog_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS fairness_auditlog_no_update_delete ON fairness_auditlog;
DROP FUNCTION IF EXISTS fairness_auditlog_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("fairness", "0001_initial"), ("tasks", "0002_pool_payment_and_care_settings")]
    operations = [
        migrations.RunSQL(GUARDS, DROP),
        migrations.RunSQL(
            "CREATE INDEX fairness_assignment_worker_day ON tasks_assignment (worker_id, created_at)",
            "DROP INDEX IF EXISTS fairness_assignment_worker_day",
        ),
    ]
