from django.db import migrations, models


def utf8mb4_on_mysql(apps, schema_editor) -> None:
    """MariaDB and MySQL: every Unicode character in the table (the server's default character set may hold fewer)."""
    if schema_editor.connection.vendor == "mysql":
        schema_editor.execute("ALTER TABLE items CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="Item",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=200)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
            options={
                "db_table": "items",
            },
        ),
        # atomic=False: MariaDB and MySQL cannot change a schema inside a transaction.
        migrations.RunPython(utf8mb4_on_mysql, migrations.RunPython.noop, atomic=False),
    ]
