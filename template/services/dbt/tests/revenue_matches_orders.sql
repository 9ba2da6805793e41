-- The mart's revenue adds up to that of the orders not cancelled: rows returned are a failure.
with mart as (
    select sum(revenue_cents) as revenue_cents from {{ ref('customer_revenue') }}
),

orders as (
    select coalesce(sum(amount_cents), 0) as revenue_cents
    from {{ ref('stg_orders') }}
    where status != 'cancelled'
)

select
    mart.revenue_cents as mart_revenue_cents,
    orders.revenue_cents as orders_revenue_cents
from mart cross join orders
where mart.revenue_cents != orders.revenue_cents
