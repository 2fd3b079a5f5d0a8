"""Every method now keeps a recipient's own text on its row (placeholders filled in), not only
the storage method: the field's description says so. No change to the database."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("sender", "0012_broadcast_origin_test"),
    ]

    operations = [
        migrations.AlterField(
            model_name="messagerecipient",
            name="text",
            field=models.TextField(blank=True, db_default="", default="",
                                   help_text="What this recipient was sent when it differs from the message's body "
                                             "(placeholders filled in); kept by every method.",
                                   verbose_name="text"),
        ),
    ]
