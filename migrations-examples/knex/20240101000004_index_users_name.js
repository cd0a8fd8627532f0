exports.up = function (knex) {
  return knex.schema.table('users', function (table) {
    table.index('name');
  });
};

exports.down = function (knex) {
  return knex.schema.table('users', function (table) {
    table.dropIndex('name');
  });
};
