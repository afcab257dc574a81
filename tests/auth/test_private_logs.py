"""Error logs carry no personal data: a failing statement's values stay out of every log record."""
import logging

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app import create_app
from app.extensions import db
from app.tenancy import scoped_by_hand
from tests.support.env import database_url, redis_url

NAME, EMAIL = "Pat Patient", "pat.patient@client.example"


def _insert_user():
    db.session.execute(  # a table no tenant owns
        scoped_by_hand(text("INSERT INTO user_account (email, name, password_hash, session_version, created_at) "
                            "VALUES (:email, :name, 'x', 1, CURRENT_TIMESTAMP)")),
        {"email": EMAIL, "name": NAME},
    )


def test_a_failing_statement_is_logged_without_its_values(caplog, smtp_sink):
    failing = create_app({"APP_ENV": "test", "SQLALCHEMY_DATABASE_URI": database_url(), "REDIS_URL": redis_url(),
                          "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False})

    @failing.get("/duplicate-user")
    def duplicate_user():
        _insert_user()
        _insert_user()
        return "unreachable"

    with caplog.at_level(logging.DEBUG):
        response = failing.test_client().get("/duplicate-user")
    assert response.status_code == 500
    assert "Something went wrong" in response.get_data(as_text=True)
    logged = "\n".join(record.getMessage() + (record.exc_text or "") for record in caplog.records)
    assert "Unhandled database error IntegrityError" in logged and "INSERT INTO user_account" in logged
    assert NAME not in logged and EMAIL not in logged


def test_the_engine_hides_bound_parameters_in_its_errors(app):
    with app.app_context():
        _insert_user()
        try:
            _insert_user()
        except DBAPIError as error:
            assert "[SQL parameters hidden due to hide_parameters=True]" in str(error)
            assert NAME not in str(error)
        else:
            raise AssertionError("the second insert should have failed")
        finally:
            db.session.rollback()
