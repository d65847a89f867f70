{#
  Incremental by day: each build recomputes, from every order of those days, only the order dates
  that have an order changed since the last build (an update to an old order included: its day is
  recomputed), and replaces those days (delete+insert by order_date).
  `dbt build --full-refresh` recomputes every day.
#}
{{
    config(
        materialized='incremental',
        unique_key='order_date',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}

with

orders as (

    select * from {{ ref('orders') }}

    {% if is_incremental() %}
    where order_date in (
        select distinct order_date from {{ ref('orders') }} where loaded_at > {{ loaded_since() }}
    )
    {% endif %}

),

daily as (

    select
        order_date,
        count(*) as orders_count,
        count(*) filter (where is_revenue) as revenue_orders_count,
        coalesce(sum(order_total) filter (where is_revenue), 0) as revenue,
        coalesce(sum(order_total) filter (where not is_revenue), 0) as lost_revenue,
        -- The newest load among the day's orders: the next build's watermark.
        max(loaded_at) as loaded_at

    from orders
    group by order_date

)

select * from daily
