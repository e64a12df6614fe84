//! Users and sessions as stored (no browser): argon2 hashes, sign-in, sessions that end when
//! their user is deleted, their token revoked, or their time is up; on both backends.

use crate::support::TestDb;
use rebound::access::{Kind, Role, sessions, tokens, users};
use rebound::audit::Actor;
use rebound::store::Db;

async fn users_and_sessions(db: TestDb) {
    let (store, _) = Db::connect_and_migrate(&db.config()).expect("database");
    let mut c = store.conn().unwrap();
    let now = chrono::Utc::now().naive_utc();
    let actor = Actor::cli();
    assert!(matches!(
        users::create(&mut c, &actor, "short", Role::Admin, "123", now),
        Err(users::UserError::ShortPassword)
    ));
    assert!(matches!(
        users::create(&mut c, &actor, "bad name", Role::Admin, "long-enough-1", now),
        Err(users::UserError::BadName(_))
    ));
    assert!(matches!(
        users::create(&mut c, &actor, "n", Role::Node, "long-enough-1", now),
        Err(users::UserError::BadRole(_))
    ));
    users::create(&mut c, &actor, "alice", Role::Admin, "long-enough-1", now).unwrap();
    assert!(matches!(
        users::create(&mut c, &actor, "alice", Role::Viewer, "other-pass-1", now),
        Err(users::UserError::Exists(_))
    ));

    // Only the argon2id hash is stored.
    use diesel::prelude::*;
    use rebound::store::schema::web_users;
    let stored: String = web_users::table.select(web_users::password_hash).first(&mut c).unwrap();
    assert!(stored.starts_with("$argon2id$") && !stored.contains("long-enough-1"), "{stored}");

    assert!(users::sign_in(&mut c, "alice", "wrong-password", now).unwrap().is_none());
    assert!(users::sign_in(&mut c, "nobody", "long-enough-1", now).unwrap().is_none());
    let alice = users::sign_in(&mut c, "alice", "long-enough-1", now).unwrap().expect("signed in");
    assert_eq!((alice.role, alice.kind, alice.actor().as_str()), (Role::Admin, Kind::User, "user:alice"));
    assert!(users::list(&mut c).unwrap()[0].last_login_at.is_some(), "the sign-in is noted");

    let (secret, session) = sessions::open(&mut c, &alice, now).unwrap();
    assert_ne!(secret, session.csrf);
    let found = sessions::find(&mut c, &secret, now).unwrap().expect("live");
    assert_eq!((found.principal.name.as_str(), found.csrf.as_str()), ("alice", session.csrf.as_str()));
    assert!(sessions::find(&mut c, "not-a-session", now).unwrap().is_none());
    let later = now + sessions::LIFETIME + chrono::Duration::seconds(1);
    assert!(sessions::find(&mut c, &secret, later).unwrap().is_none(), "expired");

    // Signing out ends it; so does deleting the user.
    sessions::close(&mut c, &secret).unwrap();
    assert!(sessions::find(&mut c, &secret, now).unwrap().is_none());
    let (again, _) = sessions::open(&mut c, &alice, now).unwrap();
    users::delete(&mut c, &actor, "alice", now).unwrap();
    assert!(sessions::find(&mut c, &again, now).unwrap().is_none(), "a deleted user's session ends");

    // A session signed in with a token ends when the token is revoked; node tokens never sign in.
    let (_, token) = tokens::create(&mut c, &actor, "ops", Role::Viewer, now).unwrap();
    let p = tokens::authenticate(&mut c, &token).unwrap().unwrap();
    let (by_token, _) = sessions::open(&mut c, &p, now).unwrap();
    assert_eq!(sessions::find(&mut c, &by_token, now).unwrap().unwrap().principal.role, Role::Viewer);
    tokens::revoke(&mut c, &actor, "ops", now).unwrap();
    assert!(sessions::find(&mut c, &by_token, now).unwrap().is_none(), "a revoked token's session ends");
}

on_both_backends!(web_users_and_sessions, users_and_sessions);
