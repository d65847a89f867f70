with

orders as (

    select * from {{ ref('stg_orders') }}

),

products as (

    select * from {{ ref('stg_products') }}

),

customers as (

    select * from {{ ref('stg_customers') }}

),

joined as (

    select
        orders.order_id,
        orders.customer_id,
        customers.country as customer_country,
        orders.product_id,
        products.product_category,
        orders.quantity,
        orders.order_total,
        orders.order_status,
        orders.order_status in ('placed', 'shipped', 'completed') as is_revenue,
        orders.campaign_key,
        orders.ordered_at,
        orders.order_date

    from orders
    left join products on orders.product_id = products.product_id
    left join customers on orders.customer_id = customers.customer_id

)

select * from joined
