"""POST /items writes a row, GET /items/<id> reads it back: the smallest real use of the database."""

import json

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from items.models import Item

MAX_ID = 2**63 - 1  # the largest id a bigint holds: a larger one is no item, not a database error


def as_json(item: Item) -> dict[str, object]:
    return {"id": item.id, "name": item.name, "created_at": item.created_at.isoformat()}


def no_database() -> JsonResponse | None:
    return None if settings.DATABASE_URL else JsonResponse({"detail": "DATABASE_URL is not set"}, status=503)


@csrf_exempt  # a JSON API: no form, no session cookie to protect
@require_POST
def create_item(request: HttpRequest) -> JsonResponse:
    if refused := no_database():
        return refused
    try:
        body = json.loads(request.body)
    except ValueError:
        body = None
    name = body.get("name") if isinstance(body, dict) else None
    if not isinstance(name, str) or not 1 <= len(name) <= 200:
        return JsonResponse({"detail": "name: a string of 1 to 200 characters"}, status=422)
    return JsonResponse(as_json(Item.objects.create(name=name)), status=201)


@require_GET
def read_item(request: HttpRequest, item_id: int) -> JsonResponse:
    if refused := no_database():
        return refused
    item = Item.objects.filter(pk=item_id).first() if item_id <= MAX_ID else None
    if item is None:
        return JsonResponse({"detail": "no such item"}, status=404)
    return JsonResponse(as_json(item))
