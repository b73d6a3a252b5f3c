from tortoise import migrations
from tortoise.migrations import operations as ops
from backend.models.content import EvidenceStatus, MediaKind, RenditionStatus
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from uuid import uuid4
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('xuefen', '0012_activity_record_by_occurred_at')]

    initial = False

    operations = [
        ops.CreateModel(
            name='LessonContent',
            fields=[
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('tenant', fields.ForeignKeyField('xuefen.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('module', fields.ForeignKeyField('xuefen.CourseModule', source_field='module_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('version', fields.IntField()),
                ('body_markdown', fields.TextField(default='', unique=False)),
                ('body_html', fields.TextField(default='', unique=False)),
                ('edited_by', fields.ForeignKeyField('xuefen.Employee', source_field='edited_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
            ],
            options={'table': 'lesson_content', 'app': 'xuefen', 'unique_together': (('module', 'version'),), 'pk_attr': 'id', 'table_description': "One version of a module's study material: Markdown as written and the sanitised HTML phones"},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='MediaObject',
            fields=[
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('tenant', fields.ForeignKeyField('xuefen.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('sha256', fields.CharField(max_length=64)),
                ('size_bytes', fields.BigIntField()),
                ('mime_type', fields.CharField(max_length=100)),
                ('kind', fields.CharEnumField(description='IMAGE: IMAGE\nPDF: PDF\nAUDIO: AUDIO\nVIDEO: VIDEO\nFILE: FILE', enum_type=MediaKind, max_length=8)),
                ('file_name', fields.CharField(default='', max_length=255)),
                ('duration_ms', fields.BigIntField(null=True)),
                ('page_count', fields.IntField(null=True)),
                ('width', fields.IntField(null=True)),
                ('height', fields.IntField(null=True)),
            ],
            options={'table': 'media_object', 'app': 'xuefen', 'unique_together': (('tenant', 'sha256'),), 'pk_attr': 'id', 'table_description': 'A file a company holds (lesson material, a rendition, evidence), by its sha256. Durations and'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='ContentProgress',
            fields=[
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('tenant', fields.ForeignKeyField('xuefen.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('employee', fields.ForeignKeyField('xuefen.Employee', source_field='employee_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('module', fields.ForeignKeyField('xuefen.CourseModule', source_field='module_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('media', fields.ForeignKeyField('xuefen.MediaObject', source_field='media_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('played', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('pages', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('covered_ms', fields.BigIntField(default=0)),
                ('seconds_spent', fields.IntField(default=0)),
            ],
            options={'table': 'content_progress', 'app': 'xuefen', 'unique_together': (('employee', 'module', 'media'),), 'pk_attr': 'id', 'table_description': 'How much of one file of a module an employee studied, derived from CONTENT_PROGRESS'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='EvidenceAttachment',
            fields=[
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('tenant', fields.ForeignKeyField('xuefen.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('employee', fields.ForeignKeyField('xuefen.Employee', source_field='employee_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('record_id', fields.UUIDField()),
                ('kind', fields.CharEnumField(description='IMAGE: IMAGE\nPDF: PDF\nAUDIO: AUDIO\nVIDEO: VIDEO\nFILE: FILE', enum_type=MediaKind, max_length=8)),
                ('sha256', fields.CharField(max_length=64)),
                ('size_bytes', fields.BigIntField()),
                ('mime_type', fields.CharField(max_length=100)),
                ('file_name', fields.CharField(default='', max_length=255)),
                ('status', fields.CharEnumField(default=EvidenceStatus.PENDING, description='PENDING: PENDING\nRECEIVED: RECEIVED', enum_type=EvidenceStatus, max_length=8)),
                ('received_bytes', fields.BigIntField(default=0)),
                ('media', fields.ForeignKeyField('xuefen.MediaObject', source_field='media_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('received_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'evidence_attachment', 'app': 'xuefen', 'indexes': [Index(fields=['tenant_id', 'record_id'])], 'pk_attr': 'id', 'table_description': 'A photo, video, voice note or file captured with a record (practice log, evaluation,'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='EvidenceChunk',
            fields=[
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('tenant', fields.ForeignKeyField('xuefen.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('attachment', fields.ForeignKeyField('xuefen.EvidenceAttachment', source_field='attachment_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('offset', fields.BigIntField()),
                ('data', fields.BinaryField()),
            ],
            options={'table': 'evidence_chunk', 'app': 'xuefen', 'unique_together': (('attachment', 'offset'),), 'pk_attr': 'id', 'table_description': 'Bytes of an evidence upload in progress, kept in the database so any server process can'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='LessonFile',
            fields=[
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('tenant', fields.ForeignKeyField('xuefen.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('content', fields.ForeignKeyField('xuefen.LessonContent', source_field='content_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('position', fields.SmallIntField()),
                ('title', fields.CharField(max_length=200)),
                ('media', fields.ForeignKeyField('xuefen.MediaObject', source_field='media_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('since_version', fields.IntField()),
            ],
            options={'table': 'lesson_file', 'app': 'xuefen', 'unique_together': (('content', 'position'),), 'pk_attr': 'id', 'table_description': 'A file of one content version, in order. since_version is the version in which this file'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='MediaRendition',
            fields=[
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('tenant', fields.ForeignKeyField('xuefen.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('source', fields.ForeignKeyField('xuefen.MediaObject', source_field='source_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('label', fields.CharField(max_length=16)),
                ('status', fields.CharEnumField(default=RenditionStatus.PENDING, description='PENDING: PENDING\nREADY: READY\nFAILED: FAILED', enum_type=RenditionStatus, max_length=8)),
                ('media', fields.ForeignKeyField('xuefen.MediaObject', source_field='media_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('attempts', fields.SmallIntField(default=0)),
                ('claimed_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('error', fields.CharField(default='', max_length=300)),
            ],
            options={'table': 'media_rendition', 'app': 'xuefen', 'unique_together': (('source', 'label'),), 'pk_attr': 'id', 'table_description': 'A smaller copy of a video for poor links (e.g. 360p), made in the background. A worker'},
            bases=['TenantModel'],
        ),
        ops.AddField(
            model_name='CourseModule',
            name='required_study_percent',
            field=fields.SmallIntField(null=True),
        ),
        ops.AddField(
            model_name='Tenant',
            name='keep_photo_location',
            field=fields.BooleanField(default=False, db_default=False),
        ),
    ]
