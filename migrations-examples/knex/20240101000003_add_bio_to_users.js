exports.up = (knex) =>
  knex.schema.alterTable('users', (t) => {
    t.text('bio');
    t.string('locale', 10).defaultTo('en');
  });

exports.down = (knex) =>
  knex.schema.alterTable('users', (t) => {
    t.dropColumn('bio');
    t.dropColumn('locale');
  });
