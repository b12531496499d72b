import django.db.models.deletion
from django.db import migrations, models
from django.db.models import Q


class Migration(migrations.Migration):
    """Decision.restriction_id becomes a real foreign key to quality's restriction, on the same column."""

    dependencies = [
        ("fairness", "0003_wider_pay_figures"),
        ("quality", "0002_taskresult_without_fk_constraints"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    sql="""
                    ALTER TABLE fairness_decision
                      ADD CONSTRAINT fairness_decision_restriction_id_fk FOREIGN KEY (restriction_id)
                      REFERENCES quality_restriction (id) DEFERRABLE INITIALLY DEFERRED;
                    """,
                    reverse_sql="ALTER TABLE fairness_decision DROP CONSTRAINT fairness_decision_restriction_id_fk;",
                ),
            ],
            state_operations=[
                migrations.RemoveConstraint(model_name="decision", name="decision_once_per_restriction"),
                migrations.RemoveField(model_name="decision", name="restriction_id"),
                migrations.AddField(
                    model_name="decision",
                    name="restriction",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="decisions",
                        to="quality.restriction",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="decision",
                    constraint=models.UniqueConstraint(
                        condition=Q(restriction__isnull=False),
                        fields=("restriction",),
                        name="decision_once_per_restriction",
                    ),
                ),
            ],
        ),
    ]
