-- Per customer: orders placed and revenue, cancelled orders left out of the revenue.
with orders as (
    select * from {{ ref('stg_orders') }}
)

select
    customers.customer_id,
    customers.customer_name,
    customers.country,
    count(orders.order_id) as orders_placed,
    coalesce(sum(case when orders.status != 'cancelled' then orders.amount_cents end), 0) as revenue_cents,
    max(orders.ordered_at) as last_ordered_at
from {{ ref('stg_customers') }} as customers
left join orders on customers.customer_id = orders.customer_id
group by customers.customer_id, customers.customer_name, customers.country
