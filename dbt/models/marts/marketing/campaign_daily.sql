{#
  Spend and attributed orders per campaign and day (orders count on their order date; orders with
  no campaign form the row whose campaign_key is null).

  Incremental by day: each build recomputes only the days with an ad spend row or an order loaded
  since the last build (an update to an old order included), each source against its own newest
  load time, and replaces those days whole (delete+insert by activity_date), so a campaign that
  lost its last order of a day loses that day's row too. `dbt build --full-refresh` recomputes
  every day.
#}
{{
    config(
        materialized='incremental',
        unique_key='activity_date',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}

with

{% if is_incremental() %}
touched_days as (

    select spend_date as activity_date from {{ ref('stg_ad_spend') }}
    where loaded_at > {{ loaded_since('ad_spend_loaded_at') }}
    union
    select order_date from {{ ref('stg_orders') }}
    where loaded_at > {{ loaded_since('orders_loaded_at') }}

),
{% endif %}

ad_spend as (

    select * from {{ ref('stg_ad_spend') }}
    {% if is_incremental() %}
    where spend_date in (select activity_date from touched_days)
    {% endif %}

),

orders as (

    select * from {{ ref('stg_orders') }}
    {% if is_incremental() %}
    where order_date in (select activity_date from touched_days)
    {% endif %}

),

spend_per_day as (

    select
        campaign_key,
        spend_date as activity_date,
        count(*) as ad_spend_rows,
        sum(impressions) as impressions,
        sum(clicks) as clicks,
        sum(spend_eur) as spend_eur,
        max(loaded_at) as loaded_at

    from ad_spend
    group by campaign_key, spend_date

),

orders_per_day as (

    select
        campaign_key,
        order_date as activity_date,
        count(*) as orders_count,
        coalesce(
            sum(order_total) filter (where order_status in ('placed', 'shipped', 'completed')), 0
        ) as revenue,
        max(loaded_at) as loaded_at

    from orders
    group by campaign_key, order_date

),

joined as (

    select
        coalesce(spend_per_day.campaign_key, orders_per_day.campaign_key) as campaign_key,
        coalesce(spend_per_day.activity_date, orders_per_day.activity_date) as activity_date,
        coalesce(spend_per_day.ad_spend_rows, 0) as ad_spend_rows,
        coalesce(spend_per_day.impressions, 0) as impressions,
        coalesce(spend_per_day.clicks, 0) as clicks,
        coalesce(spend_per_day.spend_eur, 0) as spend_eur,
        coalesce(orders_per_day.orders_count, 0) as orders_count,
        coalesce(orders_per_day.revenue, 0) as revenue,
        -- The newest load of each source among the day's rows: the next build's watermarks.
        spend_per_day.loaded_at as ad_spend_loaded_at,
        orders_per_day.loaded_at as orders_loaded_at

    from spend_per_day
    full outer join orders_per_day
        on spend_per_day.campaign_key = orders_per_day.campaign_key
        and spend_per_day.activity_date = orders_per_day.activity_date

)

select * from joined
