with

source as (

    select * from {{ source('shop', 'orders') }}

),

renamed as (

    select
        cast(order_id as bigint) as order_id,
        cast(customer_id as bigint) as customer_id,
        cast(product_id as integer) as product_id,
        cast(quantity as integer) as quantity,
        cast(amount as decimal(12, 2)) as order_total,
        status as order_status,
        campaign_key,
        created_at as ordered_at,
        cast(created_at as date) as order_date,
        updated_at,
        _sdc_batched_at as loaded_at

    from source

)

select * from renamed
