-- Orders placed before the status column existed are all "placed".
UPDATE orders SET status = 'placed';
