with

orders as (

    select * from {{ ref('orders') }}

),

daily as (

    select
        order_date,
        count(*) as orders_count,
        count(*) filter (where is_revenue) as revenue_orders_count,
        coalesce(sum(order_total) filter (where is_revenue), 0) as revenue,
        coalesce(sum(order_total) filter (where not is_revenue), 0) as lost_revenue

    from orders
    group by order_date

)

select * from daily
