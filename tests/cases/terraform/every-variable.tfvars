# Every variable of the Terraform module, with the values the user's stack gave it.
llmgateway_enable             = true
llmgateway_domain             = "llm.chrislee.local"
llmgateway_ingress_class_name = "nginx"
llmgateway_ingress_enable_tls = true
llmgateway_storage_size       = "10Gi"
llmgateway_storage_class_name = "longhorn"
llmgateway_auth_secret        = "5f0c3b9e8d7a6f5e4d3c2b1a09f8e7d6c5b4a3928170f6e5d4c3b2a190807060"
llmgateway_image_tag          = "latest"
llmgateway_replicas           = 3
llmgateway_admin_emails       = "admin@chrislee.local"
auth_oauth2_proxy_host        = "auth.chrislee.local"
