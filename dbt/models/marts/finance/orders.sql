{#
  Incremental: each build replaces, by order_id, the orders whose row changed since the last build,
  and those whose product or customer row changed (their category or country is copied here):
  delete+insert, since the changed orders are distinct; at 10M orders and a 1% change 0.9 s
  against 2.1 s for a MERGE, which updates every column of each matched row in place.
  The changed orders are three disjoint selects (the orders loaded since; the older ones whose
  product was; the older ones whose customer was and not their product), so that each filter
  reaches its own scan before the joins and no order comes twice: at 10M orders and a 1% change,
  0.25 s instead of 2.5 s for one condition over the joined tables (which joined every order
  first); with every order changed (a new seed), 4.0 s against 3.6 s.
  `dbt build --full-refresh` rebuilds the table from every order.
#}
{{
    config(
        materialized='incremental',
        unique_key='order_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}

with

orders as (

    select * from {{ ref('stg_orders') }}

    {% if is_incremental() %}
    where loaded_at > {{ loaded_since() }}

    union all

    select * from {{ ref('stg_orders') }}
    where loaded_at <= {{ loaded_since() }}
        and product_id in (
            select product_id from {{ ref('stg_products') }}
            where loaded_at > {{ loaded_since() }}
        )

    union all

    select * from {{ ref('stg_orders') }}
    where loaded_at <= {{ loaded_since() }}
        and customer_id in (
            select customer_id from {{ ref('stg_customers') }}
            where loaded_at > {{ loaded_since() }}
        )
        and not coalesce(product_id in (
            select product_id from {{ ref('stg_products') }}
            where loaded_at > {{ loaded_since() }}
        ), false)
    {% endif %}

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
        orders.order_date,
        -- The newest load of the rows this one is built from: the next build's watermark.
        greatest(orders.loaded_at, products.loaded_at, customers.loaded_at) as loaded_at

    from orders
    left join products on orders.product_id = products.product_id
    left join customers on orders.customer_id = customers.customer_id

)

select * from joined
