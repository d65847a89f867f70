with

source as (

    select * from {{ source('shop', 'customers') }}

),

renamed as (

    select
        cast(customer_id as bigint) as customer_id,
        full_name as customer_name,
        email,
        country,
        created_at,
        updated_at,
        _sdc_batched_at as loaded_at

    from source

)

select * from renamed
