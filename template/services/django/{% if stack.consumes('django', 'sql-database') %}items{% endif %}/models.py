"""Tables of the application. migrations/ creates them: after a change here, add a migration with
`python manage.py makemigrations` and review it."""

from django.db import models


class Item(models.Model):
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "items"

    def __str__(self) -> str:
        return self.name
