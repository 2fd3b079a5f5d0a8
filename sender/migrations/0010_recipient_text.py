"""Each recipient row may keep the text it read (placeholders filled in): the storage method
writes it, the inbox shows it."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("sender", "0009_recipient_write_cost"),
    ]

    operations = [
        migrations.AddField(
            model_name="messagerecipient",
            name="text",
            field=models.TextField(blank=True, db_default="", default="",
                                   help_text="What this recipient read when it differs from the message's body "
                                             "(placeholders filled in); kept by the storage method.",
                                   verbose_name="text"),
        ),
    ]
