-- The `shop` sample source: a client's application database (customers, products, orders).
-- Orders carry created_at/updated_at (incremental extraction by updated_at), a status that
-- changes over time, and the marketing campaign that brought them (joins to ad spend files).
create schema if not exists shop;

create table shop.customers (
    customer_id bigint primary key,
    full_name   text        not null,
    email       text        not null,
    country     text        not null,
    created_at  timestamptz not null,
    updated_at  timestamptz not null
);

create table shop.products (
    product_id  integer primary key,
    product_name text         not null,
    category    text          not null,
    unit_price  numeric(10,2) not null,
    created_at  timestamptz   not null,
    updated_at  timestamptz   not null
);

create table shop.orders (
    order_id     bigint primary key,
    customer_id  bigint        not null references shop.customers,
    product_id   integer       not null references shop.products,
    quantity     integer       not null check (quantity > 0),
    amount       numeric(12,2) not null,
    status       text          not null
                 check (status in ('placed', 'shipped', 'completed', 'cancelled', 'returned')),
    campaign_key text,         -- utm_campaign of the visit that converted; null = organic
    created_at   timestamptz   not null,
    updated_at   timestamptz   not null
);

create index orders_updated_at on shop.orders (updated_at);
create index customers_updated_at on shop.customers (updated_at);
create index products_updated_at on shop.products (updated_at);
