exports.up = async function (knex) {
  await knex.schema.createTable('posts', function (t) {
    t.bigIncrements('id');
    t.integer('user_id').unsigned().notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.string('title', 200).notNullable();
    t.text('body');
    t.integer('views').notNullable().defaultTo(0);
    t.timestamp('published_at', { useTz: true });
    t.index(['user_id', 'published_at']);
  });
};

exports.down = async function (knex) {
  await knex.schema.dropTable('posts');
};
