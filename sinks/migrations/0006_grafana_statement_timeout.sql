-- The read-only role behind the Grafana boards may not hold the database: every statement
-- of ioc_grafana is cancelled after 10 s (a new session default; open sessions keep theirs).
-- A role-wide default needs a superuser (or CREATEROLE with ADMIN OPTION on the role);
-- migrating as the application role only warns, and the role set-up (ioc dev up, the
-- compose init script) sets the same default.

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ioc_grafana') THEN
        BEGIN
            ALTER ROLE ioc_grafana SET statement_timeout = '10s';
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE WARNING 'role % may not set defaults of ioc_grafana; as a superuser run: '
                'ALTER ROLE ioc_grafana SET statement_timeout = ''10s''', current_user;
        END;
    END IF;
END
$$;
