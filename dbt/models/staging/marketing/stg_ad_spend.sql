with

source as (

    select * from {{ source('marketing', 'ad_spend') }}

),

renamed as (

    select
        cast(spend_date as varchar) || ':' || campaign_key as ad_spend_id,
        cast(spend_date as date) as spend_date,
        campaign_key,
        channel,
        cast(impressions as bigint) as impressions,
        cast(clicks as bigint) as clicks,
        cast(spend_eur as decimal(12, 2)) as spend_eur,
        _sdc_filename as source_file,
        _sdc_batched_at as loaded_at

    from source

)

select * from renamed
