select
    customer_id,
    name as customer_name,
    country,
    signed_up_at
from {{ source('raw', 'customers') }}
