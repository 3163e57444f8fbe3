"""/v1/users (scope `admin`)."""

from crm_api.kit.resource_routes import add_record_routes
from crm_api.kit.routing import CrmRouter
from crm_api.users.schemas import UserCreate, UserListParams, UserOut, UserUpdate
from crm_api.users.service import UserService

router = CrmRouter(tags=["users"])
add_record_routes(router, resource="users", label="user", service=UserService, create=UserCreate,
                  update=UserUpdate, out=UserOut, params=UserListParams, scopes=("admin", "admin"))
