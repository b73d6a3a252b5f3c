from tortoise import migrations

from backend.migration_ops import AddCheckConstraint


class Migration(migrations.Migration):
    dependencies = [('xuefen', '0002_check_constraints')]

    initial = False

    operations = [
        AddCheckConstraint(
            model_name='Employee',
            check='employee_no = UPPER(employee_no)',
            name='employee_no_upper',
            sqlite_check='NEW.employee_no = UPPER(NEW.employee_no)',
        ),
        AddCheckConstraint(
            model_name='Tenant',
            check='code = LOWER(code)',
            name='tenant_code_lower',
            sqlite_check='NEW.code = LOWER(NEW.code)',
        ),
    ]
