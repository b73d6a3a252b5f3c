from tortoise import migrations
from tortoise.migrations import operations as ops
from backend.models.sessions import AttendanceStatus, EnrollmentStatus, SessionStatus
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('xuefen', '0004_activity_and_sync')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AuditEntry',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('tenant', fields.ForeignKeyField('xuefen.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('actor', fields.ForeignKeyField('xuefen.Employee', source_field='actor_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('action', fields.CharField(max_length=64)),
                ('entity', fields.CharField(max_length=32)),
                ('entity_id', fields.CharField(max_length=64)),
                ('details', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'audit_entry', 'app': 'xuefen', 'indexes': [Index(fields=['tenant_id', 'entity', 'entity_id'])], 'pk_attr': 'id', 'table_description': 'An HR-visible change: who did what to which row, when, and why. Append-only.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='TrainingSession',
            fields=[
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('tenant', fields.ForeignKeyField('xuefen.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('course', fields.ForeignKeyField('xuefen.Course', source_field='course_id', db_constraint=True, to_field='id', related_name='sessions', on_delete=OnDelete.CASCADE)),
                ('module', fields.ForeignKeyField('xuefen.CourseModule', source_field='module_id', null=True, db_constraint=True, to_field='id', related_name='sessions', on_delete=OnDelete.SET_NULL)),
                ('title', fields.CharField(max_length=200)),
                ('instructor', fields.ForeignKeyField('xuefen.Employee', source_field='instructor_id', db_constraint=True, to_field='id', related_name='instructed_sessions', on_delete=OnDelete.RESTRICT)),
                ('site', fields.ForeignKeyField('xuefen.Site', source_field='site_id', db_constraint=True, to_field='id', related_name='sessions', on_delete=OnDelete.RESTRICT)),
                ('location', fields.CharField(default='', max_length=200)),
                ('starts_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('ends_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('capacity', fields.IntField()),
                ('seats_taken', fields.IntField(default=0)),
                ('checkin_opens_minutes', fields.IntField(default=30)),
                ('late_after_minutes', fields.IntField(default=10)),
                ('status', fields.CharEnumField(default=SessionStatus.SCHEDULED, description='SCHEDULED: SCHEDULED\nOPEN: OPEN\nCLOSED: CLOSED\nCANCELLED: CANCELLED', enum_type=SessionStatus, max_length=16)),
                ('allows_walk_in', fields.BooleanField(default=False)),
                ('secret', fields.CharField(max_length=64)),
                ('rotation_seconds', fields.IntField(default=15)),
            ],
            options={'table': 'training_session', 'app': 'xuefen', 'indexes': [Index(fields=['tenant_id', 'starts_at'])], 'pk_attr': 'id', 'table_description': 'One occurrence of training: a class at HQ, a practice round at a store, a drill at a plant.'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='Attendance',
            fields=[
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('tenant', fields.ForeignKeyField('xuefen.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('session', fields.ForeignKeyField('xuefen.TrainingSession', source_field='session_id', db_constraint=True, to_field='id', related_name='attendances', on_delete=OnDelete.CASCADE)),
                ('employee', fields.ForeignKeyField('xuefen.Employee', source_field='employee_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('status', fields.CharEnumField(description='PRESENT: PRESENT\nLATE: LATE\nABSENT: ABSENT\nEXCUSED: EXCUSED', enum_type=AttendanceStatus, max_length=16)),
                ('checked_in_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('checked_out_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('record_id', fields.UUIDField(null=True)),
                ('device', fields.ForeignKeyField('xuefen.Device', source_field='device_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('clock_offset_ms', fields.BigIntField(default=0)),
                ('risk_flags', fields.CharField(default='', max_length=200)),
                ('latitude', fields.FloatField(null=True)),
                ('longitude', fields.FloatField(null=True)),
                ('manual', fields.BooleanField(default=False)),
                ('marked_by', fields.ForeignKeyField('xuefen.Employee', source_field='marked_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('reason', fields.CharField(default='', max_length=300)),
            ],
            options={'table': 'attendance', 'app': 'xuefen', 'unique_together': (('session', 'employee'),), 'pk_attr': 'id', 'table_description': 'One attendance per employee and session (a second check-in changes nothing).'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='Enrollment',
            fields=[
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('tenant', fields.ForeignKeyField('xuefen.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('session', fields.ForeignKeyField('xuefen.TrainingSession', source_field='session_id', db_constraint=True, to_field='id', related_name='enrollments', on_delete=OnDelete.CASCADE)),
                ('employee', fields.ForeignKeyField('xuefen.Employee', source_field='employee_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('status', fields.CharEnumField(description='PENDING: PENDING\nENROLLED: ENROLLED\nWAITLISTED: WAITLISTED\nREJECTED: REJECTED\nCANCELLED: CANCELLED', enum_type=EnrollmentStatus, max_length=16)),
                ('waitlisted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('decided_by', fields.ForeignKeyField('xuefen.Employee', source_field='decided_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('decided_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('reason', fields.CharField(default='', max_length=300)),
                ('version', fields.IntField(default=1)),
            ],
            options={'table': 'enrollment', 'app': 'xuefen', 'unique_together': (('session', 'employee'),), 'pk_attr': 'id', 'table_description': "An employee's place in a session (one row per employee and session)."},
            bases=['TenantModel'],
        ),
        ops.AddField(
            model_name='Site',
            name='latitude',
            field=fields.FloatField(null=True),
        ),
        ops.AddField(
            model_name='Site',
            name='longitude',
            field=fields.FloatField(null=True),
        ),
    ]
