{#
  Per campaign with ad spend: its spend, attributed orders and return on ad spend, rolled up from
  campaign_daily (one row per campaign and day: small, so this table is rebuilt each time while
  the day-by-day work over orders stays incremental).
#}

with

daily as (

    select * from {{ ref('campaign_daily') }}
    where campaign_key is not null

),

per_campaign as (

    select
        campaign_key,
        min(activity_date) filter (where ad_spend_rows > 0) as first_spend_date,
        max(activity_date) filter (where ad_spend_rows > 0) as last_spend_date,
        sum(impressions) as impressions,
        sum(clicks) as clicks,
        sum(spend_eur) as spend_eur,
        cast(sum(orders_count) as bigint) as orders_count,
        sum(revenue) as revenue

    from daily
    group by campaign_key
    having sum(ad_spend_rows) > 0

),

final as (

    select
        campaign_key,
        first_spend_date,
        last_spend_date,
        impressions,
        clicks,
        spend_eur,
        orders_count,
        revenue,
        round(revenue / nullif(spend_eur, 0), 4) as return_on_ad_spend

    from per_campaign

)

select * from final
