with

ad_spend as (

    select * from {{ ref('stg_ad_spend') }}

),

orders as (

    select * from {{ ref('stg_orders') }}

),

spend_per_campaign as (

    select
        campaign_key,
        min(spend_date) as first_spend_date,
        max(spend_date) as last_spend_date,
        sum(impressions) as impressions,
        sum(clicks) as clicks,
        sum(spend_eur) as spend_eur

    from ad_spend
    group by campaign_key

),

orders_per_campaign as (

    select
        campaign_key,
        count(*) as orders_count,
        coalesce(
            sum(order_total) filter (where order_status in ('placed', 'shipped', 'completed')), 0
        ) as revenue

    from orders
    where campaign_key is not null
    group by campaign_key

),

joined as (

    select
        spend_per_campaign.campaign_key,
        spend_per_campaign.first_spend_date,
        spend_per_campaign.last_spend_date,
        spend_per_campaign.impressions,
        spend_per_campaign.clicks,
        spend_per_campaign.spend_eur,
        coalesce(orders_per_campaign.orders_count, 0) as orders_count,
        coalesce(orders_per_campaign.revenue, 0) as revenue,
        round(coalesce(orders_per_campaign.revenue, 0) / nullif(spend_per_campaign.spend_eur, 0), 4)
            as return_on_ad_spend

    from spend_per_campaign
    left join orders_per_campaign
        on spend_per_campaign.campaign_key = orders_per_campaign.campaign_key

)

select * from joined
