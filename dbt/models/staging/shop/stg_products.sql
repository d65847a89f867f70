with

source as (

    select * from {{ source('shop', 'products') }}

),

renamed as (

    select
        cast(product_id as integer) as product_id,
        product_name,
        category as product_category,
        cast(unit_price as decimal(10, 2)) as unit_price,
        updated_at,
        _sdc_batched_at as loaded_at

    from source

)

select * from renamed
