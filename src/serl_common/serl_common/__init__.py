"""What every serl node shares: QoS profiles (``qos``) and the ``main()`` helper."""
