select
    order_id,
    customer_id,
    status,
    amount_cents,
    ordered_at,
    updated_at,
    cast(ordered_at as date) as ordered_on
from {{ source('raw', 'orders') }}
