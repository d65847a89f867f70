-- Deterministic data generator for the shop source, kept apart in its own schema (not extracted).
--   select sample_gen.seed(orders => 1000);   -- replace all data: 1000 orders over 30 days
--   select sample_gen.next_day(new_pct => 1); -- a next day: 1% new orders, status changes
-- Same arguments, same rows: random() is seeded per call.
create schema if not exists sample_gen;

create table sample_gen.campaigns (campaign_key text primary key, weight int not null);
insert into sample_gen.campaigns values
    ('spring_sale', 3), ('newsletter', 2), ('retargeting', 2), ('brand_search', 2), ('social_video', 1);

create or replace function sample_gen.campaign_for(r double precision) returns text
language sql immutable as $$
    -- 40% organic (null), the rest spread over the campaigns
    select case
        when r < 0.40 then null
        when r < 0.58 then 'spring_sale'
        when r < 0.70 then 'newsletter'
        when r < 0.82 then 'retargeting'
        when r < 0.94 then 'brand_search'
        else 'social_video'
    end
$$;

create or replace function sample_gen.seed(
    orders bigint,
    start_day date default date '2026-01-01',
    days integer default 30
) returns bigint
language plpgsql as $$
declare
    n_customers bigint := greatest(orders / 10, 10);
    period interval := make_interval(days => days);
    t0 timestamptz := start_day::timestamptz;
begin
    perform setseed(0.42);
    truncate shop.orders, shop.customers, shop.products;

    insert into shop.products
    select p,
           'Product ' || p,
           (array['books', 'games', 'garden', 'kitchen', 'toys'])[1 + (p % 5)],
           round((5 + random() * 195)::numeric, 2),
           t0 - make_interval(days => 200 - p),
           t0 - make_interval(days => 200 - p)
    from generate_series(1, 200) as p;

    insert into shop.customers
    select c,
           'Customer ' || c,
           'customer' || c || '@example.com',
           (array['DE', 'FR', 'NL', 'ES', 'IT', 'PL'])[1 + floor(random() * 6)::int],
           t0 + random() * period,
           t0 + random() * period
    from generate_series(1, n_customers) as c;
    update shop.customers set updated_at = created_at where updated_at < created_at;

    insert into shop.orders
    select o.order_id, o.customer_id, o.product_id, o.quantity,
           o.quantity * p.unit_price,
           o.status, o.campaign_key, o.created_at,
           -- later statuses were reached some time after the order, within the seeded period
           case when o.status = 'placed' then o.created_at
                else greatest(o.created_at, least(o.created_at + o.lag, t0 + period - o.jitter)) end
    from (
        select g as order_id,
               1 + floor(random() * n_customers)::bigint as customer_id,
               1 + floor(random() * 200)::int as product_id,
               1 + floor(random() * 3)::int as quantity,
               (array['placed', 'shipped', 'completed', 'completed', 'completed', 'cancelled', 'returned'])
                   [1 + floor(random() * 7)::int] as status,
               sample_gen.campaign_for(random()) as campaign_key,
               t0 + random() * period as created_at,
               random() * interval '3 days' as lag,
               random() * interval '6 hours' as jitter
        from generate_series(1, orders) as g
    ) as o
    join shop.products as p using (product_id);

    analyze shop.customers, shop.products, shop.orders;
    return orders;
end
$$;

-- The day after the newest activity: new orders (new_pct % of the existing count) placed that
-- day, and a share of open orders moving on (placed -> shipped -> completed) with that day's
-- updated_at. Returns the day it generated.
create or replace function sample_gen.next_day(new_pct numeric default 1) returns date
language plpgsql as $$
declare
    day date := (select coalesce(max(updated_at), now())::date + 1 from shop.orders);
    t0 timestamptz := day::timestamptz;
    n_new bigint := greatest(ceil((select count(*) from shop.orders) * new_pct / 100), 1);
    first_id bigint := (select coalesce(max(order_id), 0) + 1 from shop.orders);
    n_customers bigint := (select count(*) from shop.customers);
begin
    perform setseed((day - date '2000-01-01') / 100000.0);

    update shop.orders
    set status = case status when 'placed' then 'shipped' else 'completed' end,
        updated_at = t0 + random() * interval '23 hours'
    where status in ('placed', 'shipped') and order_id % 200 = (day - date '2000-01-01') % 200;

    insert into shop.orders
    select o.order_id, o.customer_id, o.product_id, o.quantity,
           o.quantity * p.unit_price, 'placed', o.campaign_key, o.created_at, o.created_at
    from (
        select g as order_id,
               1 + floor(random() * n_customers)::bigint as customer_id,
               1 + floor(random() * 200)::int as product_id,
               1 + floor(random() * 3)::int as quantity,
               sample_gen.campaign_for(random()) as campaign_key,
               t0 + random() * interval '23 hours' as created_at
        from generate_series(first_id, first_id + n_new - 1) as g
    ) as o
    join shop.products as p using (product_id);

    analyze shop.orders;
    return day;
end
$$;
