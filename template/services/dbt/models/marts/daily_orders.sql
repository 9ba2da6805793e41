-- Per day: orders placed, and revenue of those not cancelled.
select
    ordered_on,
    count(*) as orders_placed,
    coalesce(sum(case when status != 'cancelled' then amount_cents end), 0) as revenue_cents
from {{ ref('stg_orders') }}
group by ordered_on
